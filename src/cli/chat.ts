// lares chat: talk to Lares in the terminal.
import type { Command } from 'commander';
import { runTerminalChat } from '../channels/terminal/terminal-chat.ts';
import { createChannelRuntime } from '../app/channel-runtime.ts';
import { action } from './run.ts';
import { announceMode, loadCommandConfig } from './context-helpers.ts';

export function registerChatCommand(program: Command): void {
  program.command('chat')
    .description('Talk to Lares in the terminal. On a terminal: an interactive prompt with streamed replies. Piped: one message per input line, one reply per message, exit at end of input.')
    .option('--json', 'print each reply as one JSON line {reply, stopReason, toolCalls, incomplete, pendingApprovals}')
    .addHelpText('after', '\nExamples:\n  npx lares chat\n  echo "What do you remember about me?" | npx lares chat\n\nIn the interactive prompt: /help, /memory, /approvals, /approve ID, /deny ID [reason], /quit.')
    .action(action(async (options: { json?: boolean }) => {
      const config = loadCommandConfig({ quiet: true });
      announceMode(config, { plain: true });
      const runtime = await createChannelRuntime(config, { channel: 'terminal' });
      const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
      try {
        const { failures, turns } = await runTerminalChat({
          agent: runtime.agent,
          input: process.stdin,
          output: process.stdout,
          errorOutput: process.stderr,
          interactive,
          json: options.json,
          commands: runtime.terminalCommands,
          banner: runtime.banner,
          // approval decisions (here with /approve, or from `lares approvals`, Discord, REST) come back
          // into the conversation as a turn of their own; the reply is shown here
          background: (print) => {
            const feed = runtime.feedApprovalOutcomes((reply, outcome) => {
              print(`  ${outcome.split('\n')[0]}`, 'err');
              print(options.json ? JSON.stringify(reply) : `${interactive ? 'lares › ' : ''}${reply.reply}`);
            });
            return () => feed.close();
          },
        });
        if (failures > 0 && failures === turns) process.exitCode = 1;
      } finally {
        await runtime.close();
      }
    }));
}
