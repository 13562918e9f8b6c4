// lares rollback: back to Letta mode. The switch itself is USE_DIRECT_LLM=false and a restart
// (Letta still has all its data); --sync-blocks also pushes Lares's current memory block values
// to the Letta agent, the only write Lares ever makes to Letta.
import type { Command } from 'commander';
import { LaresError } from '../errors.ts';
import { LettaApi } from '../letta/client.ts';
import { syncBlocksToLetta } from '../letta/sync-blocks.ts';
import { openStore } from '../memory/open-store.ts';
import { loadCommandConfig } from './context-helpers.ts';
import { requireExistingDatabase } from './migrate.ts';
import { action, printJson } from './run.ts';

const STEPS = [
  'To roll back to Letta mode:',
  '  1. in .env set USE_DIRECT_LLM=false',
  '  2. restart Lares (sudo systemctl restart lares)',
  'Letta still has its own data; nothing in Lares is deleted, so you can switch back at any time.',
  'Not carried back: messages exchanged in direct mode stay in Lares only (Letta never sees them),',
  'and memory block changes made in direct mode reach Letta only with lares rollback --sync-blocks.',
];

export function registerRollbackCommand(program: Command): void {
  program.command('rollback')
    .description('Explain the rollback to Letta mode (USE_DIRECT_LLM=false); with --sync-blocks, push the current memory block values to the Letta agent.')
    .option('--sync-blocks', 'write Lares\'s memory block values to the Letta agent (LETTA_BASE_URL, LETTA_AGENT_ID, LETTA_API_KEY)')
    .option('--dry-run', 'with --sync-blocks: show which blocks would change, write nothing')
    .option('--force', 'with --sync-blocks: also push blocks not changed in Lares since the migration (and Lares defaults)')
    .option('--json', 'print the result as JSON')
    .action(action(async (flags: { syncBlocks?: boolean; dryRun?: boolean; force?: boolean; json?: boolean }) => {
      if (!flags.syncBlocks) {
        if (flags.json) printJson({ steps: STEPS }); else process.stdout.write(`${STEPS.join('\n')}\n`);
        return;
      }
      const config = loadCommandConfig({ quiet: true });
      if (!config.letta.baseUrl || !config.letta.agentId) {
        throw new LaresError('CONFIG_INVALID', 'lares rollback --sync-blocks needs LETTA_BASE_URL and LETTA_AGENT_ID (the Letta agent to update). Set them in .env.');
      }
      const api = new LettaApi({
        baseUrl: config.letta.baseUrl, agentId: config.letta.agentId, apiKey: config.letta.apiKey,
        passwordHeader: !config.env.LETTA_API_KEY && Boolean(config.env.LETTA_SERVER_PASSWORD),
      });
      requireExistingDatabase(config, 'lares rollback --sync-blocks');
      await api.retrieveAgent(); // a wrong key or agent id fails here, before anything else
      const store = await openStore(config);
      try {
        const results = await syncBlocksToLetta(store, api, { dryRun: flags.dryRun, force: flags.force });
        if (flags.json) printJson({ agentId: config.letta.agentId, dryRun: flags.dryRun ?? false, blocks: results });
        else {
          process.stdout.write(`${flags.dryRun ? 'Dry run: nothing written. ' : ''}Memory blocks → Letta agent ${config.letta.agentId}:\n`);
          for (const r of results) process.stdout.write(`  ${r.label}: ${r.chars} chars, ${r.action}${r.detail ? ` (${r.detail})` : ''}\n`);
          if (!flags.dryRun) process.stdout.write('Now set USE_DIRECT_LLM=false in .env and restart Lares.\n');
        }
        if (results.some((r) => r.action === 'failed')) process.exitCode = 1;
      } finally { await store.close(); }
    }));
}
