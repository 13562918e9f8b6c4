// Splits a reply into messages of at most `limit` characters (Discord: 2,000; Telegram: 4,096).
// Lines are kept whole when they fit; a code block cut between two messages is closed with
// ``` and reopened with its language in the next one, so each message renders on its own;
// a line longer than a message is cut at a space, and only a single word longer than a whole
// message is cut inside. Nothing is dropped: every character of the input is in the output.

export const DISCORD_MESSAGE_LIMIT = 2000;
export const TELEGRAM_MESSAGE_LIMIT = 4096;

const CLOSE_FENCE = '\n```';

export function splitMessage(text: string, limit = DISCORD_MESSAGE_LIMIT): string[] {
  if (limit < 40) throw new RangeError(`message limit ${limit} is too small to split code blocks`);
  const normalized = text.replace(/\r\n?/g, '\n');
  if (normalized.length <= limit) return normalized.trim() === '' ? [] : [normalized];

  const chunks: string[] = [];
  let current = '';
  /** the opening fence ("```ts") of the code block open at the end of `current`, if any */
  let fence: string | undefined;
  /** true while `current` holds nothing but the fence reopened from the previous message */
  let onlyReopened = false;

  const flush = () => {
    if (current !== '' && !onlyReopened) chunks.push(fence !== undefined ? current + CLOSE_FENCE : current);
    current = fence !== undefined ? fence : '';
    onlyReopened = fence !== undefined;
  };
  const append = (piece: string) => {
    current = current === '' ? piece : `${current}\n${piece}`;
    onlyReopened = false;
  };

  for (const line of normalized.split('\n')) {
    const fenceAfter = fenceStateAfter(line, fence);
    const reserve = fenceAfter !== undefined ? CLOSE_FENCE.length : 0;
    const joined = current === '' ? line.length : current.length + 1 + line.length;
    if (joined + reserve <= limit) {
      append(line);
      fence = fenceAfter;
      continue;
    }
    flush();
    const prefixLength = current === '' ? 0 : current.length + 1;
    if (prefixLength + line.length + reserve <= limit) {
      append(line);
      fence = fenceAfter;
      continue;
    }
    // The line alone is longer than a message: cut it into pieces that fit.
    // The fence marker takes effect once the piece holding it has been placed.
    const marker = line.lastIndexOf('```');
    let consumed = 0;
    let rest = line;
    while (rest.length > 0) {
      const room = limit - (current === '' ? 0 : current.length + 1) - (fence !== undefined || fenceAfter !== undefined ? CLOSE_FENCE.length : 0);
      if (rest.length <= room) {
        append(rest);
        break;
      }
      const cut = cutPoint(rest, room);
      append(rest.slice(0, cut));
      rest = rest.slice(cut);
      consumed += cut;
      if (marker >= 0 && consumed > marker + 2) fence = fenceAfter;
      flush();
    }
    fence = fenceAfter;
  }
  if (current !== '' && !onlyReopened) chunks.push(fence !== undefined ? current + CLOSE_FENCE : current);
  return chunks.filter((chunk) => chunk.trim() !== '');
}

/** Whether a code block is open after this line, and with which opening fence. */
function fenceStateAfter(line: string, fence: string | undefined): string | undefined {
  const count = line.match(/```/g)?.length ?? 0;
  if (count % 2 === 0) return fence;
  if (fence !== undefined) return undefined;
  const language = /```([^\s`]*)/.exec(line.slice(line.lastIndexOf('```')))?.[1] ?? '';
  return '```' + language;
}

/** Where to cut a too-long line: after the last space that fits, else (one huge word) at the limit. */
function cutPoint(line: string, room: number): number {
  const window = line.slice(0, room);
  const space = Math.max(window.lastIndexOf(' '), window.lastIndexOf('\t'));
  if (space > 0) return space + 1;
  // never cut a surrogate pair (an emoji) in half
  const code = line.charCodeAt(room - 1);
  return code >= 0xd800 && code <= 0xdbff ? room - 1 : room;
}
