// Letta mode (USE_DIRECT_LLM=false): channels talk to the Letta agent; the local database only
// keeps channel state (last seen Discord message, posted approvals). Switching back is
// `USE_DIRECT_LLM=true` and a restart.
import type { Config } from '../config/config.ts';
import { LettaApprovals } from '../letta/letta-approvals.ts';
import { lettaBackendFromConfig } from '../letta/letta-backend.ts';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import { openStore } from '../memory/open-store.ts';
import type { ChannelRuntime, ChannelRuntimeOptions } from './channel-runtime.ts';
import { approvalCommands } from './channel-runtime.ts';

export async function createLettaRuntime(config: Config, _options: ChannelRuntimeOptions): Promise<ChannelRuntime> {
  const approvals = new LettaApprovals();
  const backend = lettaBackendFromConfig(config, { onApprovalRequest: approvals.onApprovalRequest });
  approvals.attach(backend);
  const store = await openStore(config);
  // an approval Letta still waits on from before this start is shown to the owner at once
  await backend.recoverPendingApprovals().catch((error) => log().warn({ event: 'letta_unreachable', err: errorMessage(error) }, `cannot reach the Letta agent yet: ${errorMessage(error)}`));
  return {
    mode: 'letta',
    agent: backend,
    store,
    approvals,
    // Letta's continuation after a decision is shown once, as the reply (not also as the result)
    terminalCommands: approvalCommands(approvals, store, { showResult: false }),
    banner: [`Lares (Letta mode: agent ${config.letta.agentId} at ${config.letta.baseUrl}). Set USE_DIRECT_LLM=true for direct mode.`],
    // Letta continues its own turn after a decision: that continuation is the reply
    feedApprovalOutcomes(onReply) {
      return approvals.subscribe((event) => {
        if (event.type !== 'approval_result') return;
        const id = String(event.data.id);
        const continuation = approvals.continuations.get(id);
        if (continuation) onReply(continuation, `[approval result] ${String(event.data.tool)}: ${String(event.data.status)}`);
      });
    },
    async close() {
      await backend.close();
      await approvals.close();
      await store.close();
    },
  };
}
