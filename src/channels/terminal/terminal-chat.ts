// The terminal channel. On a TTY: a readline prompt with streamed replies and /commands.
// Otherwise: one message per input line, each reply printed after it, exit at end of input.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { AgentBackend, TurnResult } from '../../agent/types.ts';
import { errorMessage } from '../../errors.ts';

export interface TerminalCommands {
  /** handles "/name args"; returns the text to print, or undefined if the command is unknown */
  run(name: string, args: string[]): Promise<string | undefined>;
  help: string[];
}

export interface TerminalChatOptions {
  agent: AgentBackend;
  input: Readable;
  output: Writable;
  errorOutput: Writable;
  interactive: boolean;
  json?: boolean;
  commands?: TerminalCommands;
  /** extra lines printed once at the start of an interactive session */
  banner?: string[];
  /**
   * Output that arrives between turns (an approval outcome and Lares's reply to it): given a
   * printer that writes above the prompt and draws the prompt again; returns an unsubscribe.
   */
  background?(print: (text: string, stream?: 'out' | 'err') => void): () => void;
}

const BUILTIN_HELP = ['/help  show commands', '/quit  leave (or Ctrl-D)'];

export async function runTerminalChat(options: TerminalChatOptions): Promise<{ turns: number; failures: number }> {
  const { agent, output, errorOutput, interactive } = options;
  const rl = createInterface({ input: options.input, output: interactive ? output : undefined, terminal: interactive });
  let turns = 0;
  let failures = 0;
  const unsubscribe = options.background?.((text, stream = 'out') => {
    if (interactive) output.write('\r\x1b[K'); // clear the prompt line, print, then draw it again
    (stream === 'err' ? errorOutput : output).write(text.endsWith('\n') ? text : `${text}\n`);
    if (interactive) rl.prompt(true);
  });
  if (interactive) {
    for (const line of options.banner ?? []) output.write(`${line}\n`);
    output.write('Type a message, /help for commands, Ctrl-D to leave.\n');
    rl.setPrompt('you › ');
    rl.prompt();
  }
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === '') { if (interactive) rl.prompt(); continue; }
    if (line.startsWith('/')) {
      const [name, ...args] = line.slice(1).split(/\s+/);
      if (name === 'quit' || name === 'exit') break;
      if (name === 'help') output.write(`${[...BUILTIN_HELP, ...(options.commands?.help ?? [])].join('\n')}\n`);
      else {
        try {
          const answer = await options.commands?.run(name, args);
          output.write(`${answer ?? `Unknown command /${name}. Type /help.`}\n`);
        } catch (error) {
          errorOutput.write(`error: ${errorMessage(error)}\n`);
        }
      }
      if (interactive) rl.prompt();
      continue;
    }
    turns++;
    try {
      let streamed = '';
      if (interactive) output.write('lares › ');
      const result: TurnResult = await agent.send({ content: line, source: 'terminal' }, {
        onText: interactive ? (delta) => { streamed += delta; output.write(delta); } : undefined,
        onToolCall: (call) => errorOutput.write(`${interactive ? '\n' : ''}  ⚙ ${call.name} ${truncate(JSON.stringify(call.input), 160)}\n`),
        onRetry: interactive ? (info) => {
          // what the failed attempt streamed is shown again by the retry: say so
          if (streamed) output.write('\n');
          errorOutput.write(`  ↻ ${info.reason}; trying again in ${Math.round(info.delayMs / 1000)} s\n`);
          streamed = '';
        } : undefined,
        onToolResult: (r) => {
          if (r.pendingApprovalId) errorOutput.write(`  ⏳ ${r.name} is waiting for approval (${r.pendingApprovalId}): /approve ${r.pendingApprovalId} or /deny ${r.pendingApprovalId}\n`);
          else if (r.isError) errorOutput.write(`  ✗ ${r.name}: ${truncate(r.content, 200)}\n`);
        },
      });
      if (options.json) output.write(`${JSON.stringify(result)}\n`);
      else if (interactive) output.write(streamed ? `${unstreamedNote(result, streamed)}\n` : `${result.reply}\n`);
      else output.write(`${result.reply}\n`);
    } catch (error) {
      failures++;
      if (interactive) output.write('\n');
      errorOutput.write(`error: ${errorMessage(error)}\n`);
      if (options.json) output.write(`${JSON.stringify({ error: errorMessage(error) })}\n`);
    }
    if (interactive) rl.prompt();
  }
  unsubscribe?.();
  rl.close();
  return { turns, failures };
}

/** Notes added by Lares itself (cut-off, iteration limit) were not streamed by the model: print them. */
function unstreamedNote(result: TurnResult, streamed: string): string {
  const last = result.reply.split('\n\n').pop() ?? '';
  return result.incomplete && last && !streamed.includes(last) ? `\n${last}` : '';
}

function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max)}…`;
}
