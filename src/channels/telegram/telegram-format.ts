// Lares writes Markdown (code fences, `code`, **bold**, [links](…)); Telegram shows HTML safely.
// Everything that is not one of those few constructs is HTML-escaped, so no text the model
// writes can break the message ("can't parse entities"); if Telegram still refuses, the sender
// falls back to the plain text (telegram-channel.ts), so nothing is lost.

/** a fenced block; the language only when the fence line ends ("```word```" is code, not a language) */
const FENCE = /```(?:([^\n`]*)\n)?([\s\S]*?)```/g;

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** One message's Markdown as Telegram HTML (parse_mode HTML). */
export function markdownToTelegramHtml(markdown: string): string {
  let out = '';
  let last = 0;
  for (const match of markdown.matchAll(FENCE)) {
    out += inline(markdown.slice(last, match.index));
    const language = (match[1] ?? '').trim();
    const named = /^[\w+-]+$/.test(language);
    // a fence line that is not a language name is part of the code
    const body = named || language === '' ? match[2] : `${match[1]}\n${match[2]}`;
    const code = escapeHtml(body.replace(/\n$/, ''));
    out += named ? `<pre><code class="language-${language}">${code}</code></pre>` : `<pre>${code}</pre>`;
    last = match.index + match[0].length;
  }
  return out + inline(markdown.slice(last));
}

/** Text outside code blocks: inline code, bold, links; everything else escaped. */
function inline(text: string): string {
  let out = '';
  let last = 0;
  for (const match of text.matchAll(/`([^`\n]+)`/g)) {
    out += styled(text.slice(last, match.index));
    out += `<code>${escapeHtml(match[1])}</code>`;
    last = match.index + match[0].length;
  }
  return out + styled(text.slice(last));
}

const LINK = /\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g;
const BOLD = /\*\*([^*\n][^\n]*?)\*\*/g;
const PLACEHOLDER = /\uE000(\d+)\uE000/g;

/** Bold and links, properly nested: each link becomes one opaque token before bold is matched. */
function styled(text: string): string {
  const links: string[] = [];
  const tokenized = text.replace(/\uE000/g, '').replace(LINK, (_all, label: string, url: string) => {
    links.push(`<a href="${escapeHtml(url).replace(/"/g, '&quot;')}">${bold(escapeHtml(label))}</a>`);
    return `\uE000${links.length - 1}\uE000`;
  });
  return bold(escapeHtml(tokenized)).replace(PLACEHOLDER, (_all, index: string) => links[Number(index)]);
}

function bold(escaped: string): string {
  return escaped.replace(BOLD, '<b>$1</b>');
}
