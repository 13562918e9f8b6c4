// Markdown → Telegram HTML: whatever the model writes, the result is HTML Telegram accepts (checked
// with the fake Bot API's parser, which follows Telegram's rules) and shows the same words.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markdownToTelegramHtml } from '../../src/channels/telegram/telegram-format.ts';
import { parseTelegramHtml } from '../fakes/telegram.ts';

test('code blocks, inline code, bold and links become Telegram HTML; everything else is escaped', () => {
  assert.equal(markdownToTelegramHtml('**Hi** <there> & `a<b>` [docs](https://x.y/?a=1&b="2")'),
    '<b>Hi</b> &lt;there&gt; &amp; <code>a&lt;b&gt;</code> <a href="https://x.y/?a=1&amp;b=&quot;2&quot;">docs</a>');
  assert.equal(markdownToTelegramHtml('see:\n```ts\nif (a < b && c) {}\n```\ndone'),
    'see:\n<pre><code class="language-ts">if (a &lt; b &amp;&amp; c) {}</code></pre>\ndone');
  assert.equal(markdownToTelegramHtml('```\nplain <pre>\n```'), '<pre>plain &lt;pre&gt;</pre>');
  assert.equal(markdownToTelegramHtml('**a [b** c](https://x)'), '**a <a href="https://x">b** c</a>', 'bold never crosses a link');
});

test('random Markdown-ish text always converts to HTML Telegram parses, with the same words', () => {
  const pieces = ['**', '`', '```', '```js\n', '[', ']', '(', ')', '](https://e.com/a?b=1&c=2)', '<', '>', '&', '&amp;', '"', 'word', ' ', '\n', '*', '_', '\uE000', '\u0000', '😀'];
  let seed = 42;
  const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
  for (let i = 0; i < 2000; i++) {
    const text = Array.from({ length: 1 + Math.floor(random() * 40) }, () => pieces[Math.floor(random() * pieces.length)]).join('');
    const html = markdownToTelegramHtml(text);
    let visible: string;
    try { visible = parseTelegramHtml(html); } catch (error) { assert.fail(`${JSON.stringify(text)} → ${JSON.stringify(html)}: ${(error as Error).message}`); }
    assert.equal((visible.match(/word/g) ?? []).length, (text.match(/word/g) ?? []).length, `no word lost in ${JSON.stringify(text)}`);
  }
});
