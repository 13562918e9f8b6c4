import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DISCORD_MESSAGE_LIMIT, splitMessage } from '../../src/channels/discord/split-message.ts';

/** Every chunk fits, and every chunk's code fences are balanced (each message renders alone). */
function assertWellFormed(chunks: string[], limit = DISCORD_MESSAGE_LIMIT): void {
  for (const [i, chunk] of chunks.entries()) {
    assert.ok(chunk.length <= limit, `chunk ${i} has ${chunk.length} characters`);
    assert.ok(chunk.trim() !== '', `chunk ${i} is empty`);
    assert.equal((chunk.match(/```/g) ?? []).length % 2, 0, `chunk ${i} leaves a code block open:\n${chunk}`);
  }
}

/** The text with fences and whitespace removed: what must survive splitting, in order. */
function substance(text: string): string {
  return text.replace(/```[^\s`]*/g, '').replace(/\s+/g, '');
}

function words(text: string): string[] {
  return text.replace(/```[^\s`]*/g, ' ').split(/\s+/).filter(Boolean);
}

test('a short reply is one message, unchanged', () => {
  assert.deepEqual(splitMessage('hello there'), ['hello there']);
  assert.deepEqual(splitMessage('   \n  '), []);
});

test('a 5,000-character reply with code blocks: parts under the limit, fences reopened with their language, no word broken, nothing dropped', () => {
  const prose = (n: number) => Array.from({ length: n }, (_, i) => `word${i} is part of a sentence that goes on.`).join(' ');
  const code = Array.from({ length: 60 }, (_, i) => `  const value${i} = compute(${i}); // line ${i}`).join('\n');
  const text = `${prose(20)}\n\n\`\`\`ts\n${code}\n\`\`\`\n\n${prose(25)}\n\n\`\`\`python\nprint("short")\n\`\`\`\n${prose(15)}`;
  assert.ok(text.length >= 5000, `the sample is ${text.length} characters`);

  const chunks = splitMessage(text);
  assert.ok(chunks.length >= 3, `expected at least 3 parts, got ${chunks.length}`);
  assertWellFormed(chunks);
  assert.equal(substance(chunks.join('\n')), substance(text));
  assert.deepEqual(words(chunks.join('\n')), words(text), 'words are whole and in order');

  // the TypeScript block spans two messages: the second part reopens it as ts
  const withCode = chunks.filter((c) => c.includes('const value'));
  assert.ok(withCode.length >= 2, 'the long code block is split');
  for (const chunk of withCode) assert.match(chunk, /```ts\n/, 'each part of the code block is a ts block');
  // code lines are never cut
  for (const chunk of chunks) {
    for (const line of chunk.split('\n')) {
      if (line.includes('const value')) assert.match(line, /^ {2}const value\d+ = compute\(\d+\); \/\/ line \d+$/);
    }
  }
});

test('a single 3,000-character word is cut (it cannot fit) and nothing is lost', () => {
  const word = 'x'.repeat(3000);
  const chunks = splitMessage(`before ${word} after`);
  assertWellFormed(chunks);
  assert.equal(chunks.join('').replace(/\s+/g, ''), `before${word}after`);
});

test('a reply that is only one long code block: every part is a closed block in the same language', () => {
  const body = Array.from({ length: 200 }, (_, i) => `echo "step ${i}" && run --flag=${i}`).join('\n');
  const text = `\`\`\`bash\n${body}\n\`\`\``;
  const chunks = splitMessage(text);
  assert.ok(chunks.length >= 2);
  assertWellFormed(chunks);
  for (const chunk of chunks) {
    assert.ok(chunk.startsWith('```bash\n'), `starts with the bash fence: ${chunk.slice(0, 20)}`);
    assert.ok(chunk.endsWith('\n```'));
  }
  const lines = chunks.flatMap((c) => c.split('\n').filter((l) => !l.startsWith('```')));
  assert.deepEqual(lines, body.split('\n'));
});

test('a code line longer than a message is cut but stays inside code blocks', () => {
  const long = 'y'.repeat(4500);
  const chunks = splitMessage(`intro\n\`\`\`\n${long}\n\`\`\`\noutro`);
  assertWellFormed(chunks);
  assert.equal(substance(chunks.join('')), substance(`intro${long}outro`));
  for (const chunk of chunks.filter((c) => c.includes('yyy'))) assert.ok(chunk.startsWith('```') || chunk.startsWith('intro'));
});

test('emoji are never cut in half', () => {
  const text = '😀'.repeat(1500); // 3,000 UTF-16 units, no spaces
  const chunks = splitMessage(text);
  assertWellFormed(chunks);
  assert.equal(chunks.join(''), text);
  for (const chunk of chunks) assert.doesNotMatch(chunk, /^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
});
