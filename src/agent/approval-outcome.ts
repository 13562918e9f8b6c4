// How an approval decision is told to the model: as a new turn of its own, so the model
// learns whether the call it queued ran, failed, was denied or expired.
export interface ApprovalOutcomeView {
  id: string;
  tool: string;
  status: string;
  result?: { text: string; isError: boolean } | null;
  error?: string | null;
  denyReason?: string | null;
}

export function outcomeForConversation(view: ApprovalOutcomeView): string {
  const call = `${view.tool} (approval ${view.id})`;
  switch (view.status) {
    case 'executed': return `[approval result] The owner approved ${call}. It ran. Result:\n${truncate(view.result?.text ?? '(no output)', 8000)}`;
    case 'failed': return `[approval result] The owner approved ${call}. It ran and failed:\n${truncate(view.error ?? view.result?.text ?? '(no details)', 8000)}`;
    case 'denied': return `[approval result] The owner denied ${call}${view.denyReason ? ` (${view.denyReason})` : ''}. It did not run.`;
    case 'expired': return `[approval result] ${call} expired without a decision. It did not run.`;
    default: return `[approval result] ${call} is now ${view.status}.`;
  }
}

/** The sourceRef of an outcome turn: the same decision is never fed twice, whichever channel saw it. */
export function approvalOutcomeRef(id: string): string {
  return `approval:${id}`;
}

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const keep = Math.max(0, max - 32);
  return `${text.slice(0, keep)}… (${text.length - keep} more characters)`;
}
