// Delivers approval decisions into the conversation: each approval_result event becomes a
// new turn (once: the turn's sourceRef is `approval:<id>`), so the model learns whether the
// call it queued ran. Channels that show the outcome themselves (Discord) do their own.
import { approvalOutcomeRef, outcomeForConversation } from '../agent/approval-outcome.ts';
import type { AgentBackend, TurnResult } from '../agent/types.ts';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import type { ApprovalSubscription, ApprovalsClient } from '../tools/approvals-client.ts';

export function feedApprovalOutcomes(
  approvals: ApprovalsClient,
  agent: AgentBackend,
  onReply: (reply: TurnResult, outcome: string) => void,
): ApprovalSubscription {
  return approvals.subscribe((event) => {
    if (event.type !== 'approval_result') return;
    const data = event.data as { id: string; tool: string; status: string; result?: { text: string; isError: boolean }; reason?: string };
    const outcome = outcomeForConversation({ id: data.id, tool: data.tool, status: data.status, result: data.result, denyReason: data.reason });
    log().info({ event: 'approval_outcome', id: data.id, status: data.status }, `approval ${data.id}: ${data.status}`);
    agent.send({ content: outcome, source: 'approval', sourceRef: approvalOutcomeRef(data.id) })
      .then((reply) => { if (reply.stopReason !== 'duplicate') onReply(reply, outcome); })
      .catch((error) => log().error({ event: 'approval_outcome_failed', id: data.id, err: errorMessage(error) }, 'could not deliver the approval outcome to the conversation'));
  });
}
