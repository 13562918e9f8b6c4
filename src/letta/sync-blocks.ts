// `lares rollback --sync-blocks`: pushes Lares's current memory block values back to the Letta
// agent, so that after a rollback it does not wake up with stale memory. The only write Lares
// ever makes to Letta, and only when asked explicitly.
import type { MemoryStore } from '../memory/store.ts';
import { errorMessage } from '../errors.ts';
import type { LettaApi } from './client.ts';
import { charCount, MIGRATION_ACTOR } from './migrate.ts';

export interface BlockSyncResult {
  label: string;
  chars: number;
  action: 'updated' | 'unchanged' | 'would update' | 'not in Letta' | 'kept Letta\'s value' | 'failed';
  detail?: string;
}

export interface BlockSyncOptions {
  dryRun?: boolean;
  /** also push blocks nobody changed in Lares (Lares's defaults, or values as migrated) */
  force?: boolean;
}

export async function syncBlocksToLetta(store: MemoryStore, api: LettaApi, options: BlockSyncOptions = {}): Promise<BlockSyncResult[]> {
  const letta = new Map((await api.listBlocks()).map((b) => [b.label, b]));
  const results: BlockSyncResult[] = [];
  for (const block of await store.listBlocks()) {
    const remote = letta.get(block.label);
    const base = { label: block.label, chars: charCount(block.content) };
    if (!remote) {
      results.push({ ...base, action: 'not in Letta', detail: 'the Letta agent has no block with this label; create or attach it in Letta if it should have one' });
      continue;
    }
    if (remote.value === block.content) { results.push({ ...base, action: 'unchanged' }); continue; }
    // only what changed in Lares goes back: a Lares default never edited, or a value nobody
    // touched since it was migrated, would overwrite the agent's real (or newer) memory
    const last = (await store.blockHistory(block.label)).at(-1)?.actor;
    if (!options.force && (last === 'init' || last === MIGRATION_ACTOR)) {
      results.push({ ...base, action: 'kept Letta\'s value', detail: last === 'init'
        ? 'this is Lares\'s default, never migrated or edited (use --force to push it anyway)'
        : 'not changed in Lares since lares migrate copied it, so Letta\'s value is the newer one (use --force to push it anyway)' });
      continue;
    }
    if (options.dryRun) { results.push({ ...base, action: 'would update' }); continue; }
    try {
      await api.updateBlockValue(block.label, block.content);
      results.push({ ...base, action: 'updated' });
    } catch (error) {
      results.push({ ...base, action: 'failed', detail: errorMessage(error) });
    }
  }
  return results;
}
