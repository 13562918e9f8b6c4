// `lares rollback --sync-blocks`: pushes Lares's current memory block values back to the Letta
// agent, so that after a rollback it does not wake up with stale memory. The only write Lares
// ever makes to Letta, and only when asked explicitly.
import type { MemoryStore } from '../memory/store.ts';
import { errorMessage } from '../errors.ts';
import type { LettaApi } from './client.ts';

export interface BlockSyncResult {
  label: string;
  chars: number;
  action: 'updated' | 'unchanged' | 'would update' | 'not in Letta' | 'failed';
  detail?: string;
}

export async function syncBlocksToLetta(store: MemoryStore, api: LettaApi, options: { dryRun?: boolean } = {}): Promise<BlockSyncResult[]> {
  const letta = new Map((await api.listBlocks()).map((b) => [b.label, b]));
  const results: BlockSyncResult[] = [];
  for (const block of await store.listBlocks()) {
    const remote = letta.get(block.label);
    const base = { label: block.label, chars: block.content.length };
    if (!remote) {
      results.push({ ...base, action: 'not in Letta', detail: 'the Letta agent has no block with this label; create or attach it in Letta if it should have one' });
      continue;
    }
    if (remote.value === block.content) { results.push({ ...base, action: 'unchanged' }); continue; }
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
