// Letta history → Lares history. Letta items (oldest first, page after page) go in; Lares
// messages with Anthropic content blocks come out, ready to replay:
// - user text (legacy {"type":"user_message","message":…} wrappers unwrapped) → role user
// - assistant text and send_message calls → role assistant text
// - other tool calls and approval requests → tool_use blocks, answered by tool_result blocks in
//   the next user message (status error → is_error); a call with no recorded result gets an
//   is_error "no result was recorded" result, so the history never holds an orphan tool_use
// - reasoning → metadata of the assistant message
// - heartbeats, login events, system alerts, the system prompt, approval decisions → role
//   'system' events (kept, never shown to the model as the person speaking)
// - summary alerts → a 'system' event plus a Lares summary (the runner compacts what it covers)
// Each output keeps its origin in source_ref: letta:<id>:<part type>:<position>.
import { createHash } from 'node:crypto';
import type { ContentBlock, ImageBlock, TextBlock, ToolResultBlock, ToolUseBlock } from '../llm/content.ts';
import type { MessageRole, NewMessage } from '../memory/store.ts';
import { toIso } from '../time.ts';
import { parseLettaTime, SEND_MESSAGE_TOOL } from './message-rows.ts';
import type { LettaContentPart, LettaMessage, LettaToolCall, LettaToolReturn } from './types.ts';

export const NO_RESULT_TEXT = 'No result was recorded for this tool call in the Letta history (imported by lares migrate).';

export interface ConvertedMessage extends NewMessage { sourceRef: string; createdAt: string; metadata: Record<string, unknown> }

export interface ConvertedSummary {
  /** source_ref of the 'system' event message that carries the alert */
  messageRef: string;
  /** source_ref for the Lares summary row */
  summaryRef: string;
  summary: string;
  createdAt: string;
}

export interface ConvertOutput { messages: ConvertedMessage[]; summaries: ConvertedSummary[] }

export interface ConvertStats {
  lettaItems: number;
  lettaRows: number;
  byLettaType: Record<string, number>;
  messagesByRole: Record<MessageRole, number>;
  events: Record<string, number>;
  toolCalls: number;
  toolResults: number;
  syntheticResults: number;
  summaries: number;
  skipped: Record<string, number>;
}

interface ToolUseState { block: ToolUseBlock; lettaCallId: string; name: string }

interface AssistantGroup {
  id: string;
  ref: string;
  date: string;
  types: string[];
  texts: string[];
  toolUses: ToolUseState[];
  reasoning: Array<{ text: string; signature?: string | null; source?: string }>;
  hidden: Array<{ state?: string; data?: string | null }>;
  approvalRequest: boolean;
  meta: Record<string, unknown>;
  /** an approval row written in the same step as the calls still waiting: joins their assistant message */
  foldInto?: ConvertedMessage;
}

const TOOL_ID = /^[a-zA-Z0-9_-]+$/;
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const SUMMARY_INTRO = /^[\s\S]*?The following is a summary of the previous[^\n]*:\n ?/;

/** Letta system alerts that replace hidden history with a summary. */
export function isSummaryAlert(text: string): boolean {
  return /hidden from view/i.test(text) && /summary/i.test(text);
}

export class LettaHistoryConverter {
  readonly stats: ConvertStats = {
    lettaItems: 0, lettaRows: 0, byLettaType: {}, messagesByRole: { user: 0, assistant: 0, system: 0 }, events: {},
    toolCalls: 0, toolResults: 0, syntheticResults: 0, summaries: 0, skipped: {},
  };

  private out: ConvertOutput = { messages: [], summaries: [] };
  private group: AssistantGroup | undefined;
  private pending: ToolUseState[] = [];
  private pendingAssistantId = '';
  private results = new Map<string, { block: ToolResultBlock; ref: string; lettaId: string; date: string; extra?: Record<string, unknown> }>();
  private provisional = new Map<string, ToolResultBlock>();
  private held: ConvertedMessage[] = [];
  // recent ones only: a history of millions of calls must not grow the memory (a request holds far
  // fewer calls than this, and a send_message's return follows its call)
  private readonly usedToolIds = new RecentSet(RECENT_IDS);
  private readonly sendMessageCalls = new RecentSet(RECENT_IDS);
  private previousPageKeys = new Set<string>();
  private lastRowId: string | undefined;
  private readonly refPrefix: string;

  /** refPrefix: 'letta' for ids from a Letta server; agent files use their own (their ids are file-local) */
  constructor(options: { refPrefix?: string } = {}) {
    this.refPrefix = options.refPrefix ?? 'letta';
  }

  /** Converts one page of items (oldest first). Returns what is complete; a tool call waits for its result. */
  push(items: LettaMessage[]): ConvertOutput {
    const pageKeys = new Set<string>();
    const positions = new Map<string, number>();
    for (const item of items) {
      const pos = positions.get(item.id) ?? 0;
      positions.set(item.id, pos + 1);
      const key = `${item.id}:${item.message_type}:${pos}`;
      if (this.previousPageKeys.has(key) || pageKeys.has(key)) { this.skip('duplicate item (same id, type and position) already read'); continue; }
      pageKeys.add(key);
      this.stats.lettaItems++;
      this.stats.byLettaType[item.message_type] = (this.stats.byLettaType[item.message_type] ?? 0) + 1;
      if (item.id !== this.lastRowId) { this.stats.lettaRows++; this.lastRowId = item.id; }
      this.handle(item, `${this.refPrefix}:${item.id}:${item.message_type}:${pos}`);
    }
    this.previousPageKeys = pageKeys;
    return this.take();
  }

  /** Ends the history: closes an open assistant message and answers calls that never got a result. */
  finish(): ConvertOutput {
    this.closeGroup();
    if (this.pending.length > 0) this.releasePending();
    return this.take();
  }

  private take(): ConvertOutput {
    const result = this.out;
    this.out = { messages: [], summaries: [] };
    return result;
  }

  private skip(reason: string): void {
    this.stats.skipped[reason] = (this.stats.skipped[reason] ?? 0) + 1;
  }

  private handle(item: LettaMessage, ref: string): void {
    switch (item.message_type) {
      case 'reasoning_message':
      case 'hidden_reasoning_message':
      case 'assistant_message':
      case 'tool_call_message':
      case 'approval_request_message':
        this.addToGroup(item, ref);
        return;
      default:
        break;
    }
    this.closeGroup();
    switch (item.message_type) {
      case 'tool_return_message': this.onToolReturn(item, ref); return;
      case 'approval_response_message': this.onApprovalResponse(item, ref); return;
      default: break;
    }
    if (this.pending.length > 0) this.releasePending();
    switch (item.message_type) {
      case 'user_message': this.onUser(item, ref); return;
      case 'system_message': this.event(item, ref, 'system_prompt', textOf(item.content)); return;
      case 'summary_message': this.onSummary(item, ref, item.summary ?? textOf(item.content), item.summary ?? textOf(item.content)); return;
      case 'event_message': this.event(item, ref, 'letta_event', JSON.stringify(item)); return;
      default: this.skip(`unknown Letta message type ${item.message_type}`);
    }
  }

  // ---- assistant side

  private addToGroup(item: LettaMessage, ref: string): void {
    if (this.group && this.group.id !== item.id) this.closeGroup();
    if (!this.group) {
      // Letta writes a step's allowed calls and its calls needing approval as two rows in a row;
      // their results may follow both, so the approval row joins the waiting assistant message
      const foldInto = item.message_type === 'approval_request_message' && this.pending.length > 0 && this.results.size === 0
        && this.held.length === 1 && this.held[0].role === 'assistant' ? this.held[0] : undefined;
      if (this.pending.length > 0 && !foldInto) this.releasePending();
      this.group = { id: item.id, ref, date: item.date, types: [], texts: [], toolUses: [], reasoning: [], hidden: [], approvalRequest: false, meta: lettaMeta(item), foldInto };
    }
    const g = this.group;
    g.types.push(item.message_type);
    switch (item.message_type) {
      case 'reasoning_message':
        g.reasoning.push({ text: item.reasoning ?? '', signature: item.signature ?? null, source: item.source });
        break;
      case 'hidden_reasoning_message':
        g.hidden.push({ state: item.state, data: item.hidden_reasoning ?? null });
        break;
      case 'assistant_message': {
        const text = textOf(item.content);
        if (text.trim() === '') this.skip('empty assistant text');
        else g.texts.push(text);
        break;
      }
      case 'tool_call_message':
      case 'approval_request_message': {
        if (item.message_type === 'approval_request_message') g.approvalRequest = true;
        for (const [index, call] of toolCallsOf(item).entries()) {
          if (call.name === SEND_MESSAGE_TOOL) {
            const message = sendMessageText(call.arguments);
            if (message !== undefined) {
              this.sendMessageCalls.add(call.tool_call_id);
              if (message.trim() === '') this.skip('empty send_message text');
              else g.texts.push(message);
              continue;
            }
          }
          g.toolUses.push(this.toolUse(call, item.id, g.toolUses.length + index));
        }
        break;
      }
    }
  }

  private toolUse(call: LettaToolCall, rowId: string, index: number): ToolUseState {
    let id = call.tool_call_id ?? '';
    // the API wants ids matching ^[a-zA-Z0-9_-]+$, unique in a request; Letta's are not always so.
    // The replacement is derived from the position in the history, so every run picks the same one.
    for (let salt = 0; !TOOL_ID.test(id) || this.usedToolIds.has(id); salt++) {
      id = `toolu_letta_${createHash('sha256').update(`${rowId}\u0000${index}\u0000${this.stats.toolCalls}\u0000${salt}\u0000${call.tool_call_id ?? ''}`).digest('hex').slice(0, 24)}`;
    }
    this.usedToolIds.add(id);
    const name = TOOL_NAME.test(call.name ?? '') ? call.name : (call.name ?? 'unknown_tool').replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'unknown_tool';
    let input: Record<string, unknown>;
    const raw = call.arguments ?? '';
    try {
      const parsed: unknown = raw.trim() === '' ? {} : JSON.parse(raw);
      input = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed as Record<string, unknown> : { arguments: parsed };
    } catch {
      input = { arguments: raw };
    }
    this.stats.toolCalls++;
    return { block: { type: 'tool_use', id, name, input }, lettaCallId: call.tool_call_id ?? '', name: call.name };
  }

  private closeGroup(): void {
    const g = this.group;
    if (!g) return;
    this.group = undefined;
    const metadata: Record<string, unknown> = { ...g.meta, letta_types: g.types };
    if (g.reasoning.length > 0) metadata.reasoning = g.reasoning;
    if (g.hidden.length > 0) metadata.hidden_reasoning = g.hidden;
    if (g.approvalRequest) metadata.approval_request = true;
    const renamed = g.toolUses.filter((t) => t.block.id !== t.lettaCallId).map((t) => ({ id: t.block.id, letta_tool_call_id: t.lettaCallId }));
    if (renamed.length > 0) metadata.renamed_tool_calls = renamed;
    const blocks: ContentBlock[] = [...g.texts.map((t): TextBlock => ({ type: 'text', text: t })), ...g.toolUses.map((t) => t.block)];
    if (g.foldInto && g.toolUses.length > 0) {
      g.foldInto.blocks.push(...blocks);
      const joined = (g.foldInto.metadata.joined_rows as unknown[] | undefined) ?? [];
      g.foldInto.metadata.joined_rows = [...joined, { ...metadata, source_ref: g.ref }];
      this.pending = [...this.pending, ...g.toolUses];
      return;
    }
    if (blocks.length === 0) {
      if (g.reasoning.length > 0 || g.hidden.length > 0) {
        const text = g.reasoning.map((r) => r.text).join('\n') || '[hidden reasoning]';
        this.emit(this.message('system', [{ type: 'text', text }], g.ref, g.date, { ...metadata, event: 'reasoning' }));
        this.countEvent('reasoning');
      } else {
        this.skip('assistant row with nothing to keep');
      }
      return;
    }
    if (g.toolUses.length > 0) {
      // held (with what follows) until every call has its result: pages commit only complete pairs
      this.pending = g.toolUses;
      this.pendingAssistantId = g.id;
    }
    this.emit(this.message('assistant', blocks, g.ref, g.date, metadata));
  }

  // ---- tool results

  private onToolReturn(item: LettaMessage, ref: string): void {
    const returns: LettaToolReturn[] = item.tool_returns && item.tool_returns.length > 0
      ? item.tool_returns
      : [{ tool_call_id: item.tool_call_id ?? '', status: item.status ?? 'success', tool_return: item.tool_return ?? '', stdout: item.stdout ?? null, stderr: item.stderr ?? null }];
    for (const r of returns) this.acceptResult(r, item, ref);
    this.releaseIfAnswered();
  }

  private acceptResult(r: LettaToolReturn, item: LettaMessage, ref: string): void {
    const target = this.pending.find((p) => p.lettaCallId === r.tool_call_id && !this.results.has(p.block.id));
    if (target) {
      const block: ToolResultBlock = { type: 'tool_result', tool_use_id: target.block.id, content: resultContent(r.tool_return) };
      if (r.status === 'error') block.is_error = true;
      const extra: Record<string, unknown> = {};
      if (r.stdout?.length) extra.stdout = r.stdout;
      if (r.stderr?.length) extra.stderr = r.stderr;
      this.results.set(target.block.id, { block, ref, lettaId: item.id, date: safeIso(item.date), extra });
      this.stats.toolResults++;
      return;
    }
    // by name too: a server that ignores use_assistant_message=false (deprecated) sends the call as
    // assistant_message, whose return can land on the next page without its call id
    if (this.sendMessageCalls.has(r.tool_call_id) || item.name === SEND_MESSAGE_TOOL) { this.skip('send_message return (the message itself is kept as assistant text)'); return; }
    // a return whose call is not in the history (or already answered): kept as an event, never as an orphan tool_result
    const text = typeof r.tool_return === 'string' ? r.tool_return : resultText(r.tool_return);
    this.emit(this.message('system', [{ type: 'text', text: `[tool result without a recorded call: ${item.name ?? r.tool_call_id}] ${text}` }], ref, item.date, {
      ...lettaMeta(item), event: 'orphan_tool_result', tool_call_id: r.tool_call_id, status: r.status,
    }));
    this.countEvent('orphan_tool_result');
  }

  private onApprovalResponse(item: LettaMessage, ref: string): void {
    const approvals = item.approvals && item.approvals.length > 0
      ? item.approvals
      : [{ type: 'approval' as const, tool_call_id: item.approval_request_id ?? '', approve: item.approve ?? false, reason: item.reason ?? null }];
    const decisions: Array<Record<string, unknown>> = [];
    for (const a of approvals) {
      if (a.type === 'tool' || 'status' in a) {
        this.acceptResult(a as LettaToolReturn, item, ref);
        decisions.push({ tool_call_id: a.tool_call_id, tool_return: true });
        continue;
      }
      const approval = a as { tool_call_id: string; approve: boolean; reason?: string | null };
      decisions.push({ tool_call_id: approval.tool_call_id, approve: approval.approve, reason: approval.reason ?? null });
      const target = this.pending.find((p) => p.lettaCallId === approval.tool_call_id);
      if (target && !approval.approve) {
        this.provisional.set(target.block.id, { type: 'tool_result', tool_use_id: target.block.id, content: `The owner denied this tool call${approval.reason ? `: ${approval.reason}` : '.'}`, is_error: true });
      }
    }
    const text = decisions.map((d) => ('approve' in d ? `${d.approve ? 'approved' : 'denied'} ${String(d.tool_call_id)}${d.reason ? ` (${String(d.reason)})` : ''}` : `client tool result for ${String(d.tool_call_id)}`)).join('; ');
    this.emit(this.message('system', [{ type: 'text', text: `[approval response] ${text}` }], ref, item.date, { ...lettaMeta(item), event: 'approval_response', approvals: decisions }));
    this.countEvent('approval_response');
    this.releaseIfAnswered();
  }

  private releaseIfAnswered(): void {
    if (this.pending.length > 0 && this.pending.every((p) => this.results.has(p.block.id))) this.releasePending();
  }

  /** Emits the user message answering every pending call, synthesizing results Letta never recorded. */
  private releasePending(): void {
    const blocks: ToolResultBlock[] = [];
    const lettaIds: string[] = [];
    const synthetic: string[] = [];
    const extras: Record<string, unknown> = {};
    let ref: string | undefined;
    // results are dated like the latest item they come from (else like the call)
    let date = this.held[0]?.createdAt ?? new Date(0).toISOString();
    for (const p of this.pending) {
      const r = this.results.get(p.block.id);
      if (r) {
        blocks.push(r.block);
        ref ??= r.ref;
        if (r.date > date) date = r.date;
        if (!lettaIds.includes(r.lettaId)) lettaIds.push(r.lettaId);
        if (r.extra && Object.keys(r.extra).length > 0) extras[p.block.id] = r.extra;
      } else {
        blocks.push(this.provisional.get(p.block.id) ?? { type: 'tool_result', tool_use_id: p.block.id, content: NO_RESULT_TEXT, is_error: true });
        synthetic.push(p.block.id);
        this.stats.syntheticResults++;
      }
    }
    const metadata: Record<string, unknown> = { letta_ids: lettaIds, event: 'tool_results' };
    if (synthetic.length > 0) metadata.synthetic_results = synthetic;
    if (Object.keys(extras).length > 0) metadata.tool_output = extras;
    const resultRef = ref ?? `${this.refPrefix}:${this.pendingAssistantId}:synthetic_tool_result:0`;
    const message = this.message('user', blocks, resultRef, date, metadata);
    this.out.messages.push(...this.held, message);
    this.held = [];
    this.pending = [];
    this.results.clear();
    this.provisional.clear();
  }

  // ---- user side and events

  private onUser(item: LettaMessage, ref: string): void {
    const content = item.content;
    if (Array.isArray(content)) {
      // Letta wraps every text part of a multi-part message ({"type":"user_message",…}) and
      // returns the list as stored (it unwraps only a lone text part)
      const blocks = content.map((p) => partToBlock(p.type === 'text' && typeof p.text === 'string' ? { ...p, text: unwrapUserText(p.text) } : p))
        .filter((b): b is TextBlock | ImageBlock => b !== undefined);
      if (blocks.length === 0) { this.skip('empty user message'); return; }
      this.emit(this.message('user', blocks, ref, item.date, lettaMeta(item)));
      return;
    }
    const text = content ?? '';
    const packed = parsePacked(text);
    if (packed) {
      const type = packed.type;
      if (type === 'user_message' && typeof packed.message === 'string') {
        this.userText(packed.message, item, ref, { letta_wrapper: { ...packed, message: undefined } });
        return;
      }
      if (type === 'heartbeat' || type === 'login') { this.event(item, ref, type, text); return; }
      if (type === 'system_alert') {
        const message = typeof packed.message === 'string' ? packed.message : JSON.stringify(packed.message);
        if (isSummaryAlert(message)) this.onSummary(item, ref, text, message);
        else this.event(item, ref, 'system_alert', text);
        return;
      }
    }
    if (isSummaryAlert(text) && /^\s*Note:/.test(text)) { this.onSummary(item, ref, text, text); return; }
    this.userText(text, item, ref, {});
  }

  private userText(text: string, item: LettaMessage, ref: string, extra: Record<string, unknown>): void {
    if (text.trim() === '') { this.skip('empty user message'); return; }
    this.emit(this.message('user', [{ type: 'text', text }], ref, item.date, { ...lettaMeta(item), ...extra }));
  }

  private onSummary(item: LettaMessage, ref: string, raw: string, message: string): void {
    this.event(item, ref, 'summary', raw);
    this.stats.summaries++;
    const summary = message.replace(SUMMARY_INTRO, '').trim() || message;
    this.out.summaries.push({ messageRef: ref, summaryRef: `${ref}:summary`, summary, createdAt: safeIso(item.date) });
  }

  private event(item: LettaMessage, ref: string, event: string, text: string): void {
    if (text.trim() === '') { this.skip(`empty ${event}`); return; }
    this.emit(this.message('system', [{ type: 'text', text }], ref, item.date, { ...lettaMeta(item), event }));
    this.countEvent(event);
  }

  private countEvent(event: string): void {
    this.stats.events[event] = (this.stats.events[event] ?? 0) + 1;
  }

  private emit(message: ConvertedMessage): void {
    if (this.pending.length > 0) this.held.push(message);
    else this.out.messages.push(message);
  }

  private message(role: MessageRole, blocks: ContentBlock[], sourceRef: string, date: string, metadata: Record<string, unknown>): ConvertedMessage {
    this.stats.messagesByRole[role]++;
    return { role, blocks, sourceRef, createdAt: safeIso(date), metadata };
  }
}

function safeIso(date: string): string {
  try { return toIso(parseLettaTime(date)); } catch { return new Date(0).toISOString(); }
}

function lettaMeta(item: LettaMessage): Record<string, unknown> {
  const meta: Record<string, unknown> = { letta_id: item.id, letta_type: item.message_type };
  for (const key of ['name', 'otid', 'sender_id', 'step_id', 'run_id'] as const) if (item[key]) meta[`letta_${key}`] = item[key];
  if (item.is_err) meta.letta_is_err = true;
  return meta;
}

function textOf(content: LettaMessage['content']): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => (p.type === 'text' ? p.text ?? '' : '')).join('');
}

function toolCallsOf(item: LettaMessage): LettaToolCall[] {
  if (Array.isArray(item.tool_calls) && item.tool_calls.length > 0) return item.tool_calls;
  const single = item.tool_call ?? (item.tool_calls && !Array.isArray(item.tool_calls) ? item.tool_calls : undefined);
  return single ? [{ name: single.name ?? 'unknown_tool', arguments: single.arguments ?? '', tool_call_id: single.tool_call_id ?? '' }] : [];
}

function sendMessageText(args: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(args);
    if (parsed && typeof parsed === 'object' && 'message' in parsed) {
      const message = (parsed as Record<string, unknown>).message;
      return typeof message === 'string' ? message : JSON.stringify(message);
    }
  } catch { /* not JSON: kept as a tool call */ }
  return undefined;
}

function parsePacked(text: string): Record<string, unknown> | undefined {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) && typeof (parsed as Record<string, unknown>).type === 'string' ? parsed as Record<string, unknown> : undefined;
  } catch { return undefined; }
}

/** The text of a {"type":"user_message","message":…} wrapper, or the text itself. */
function unwrapUserText(text: string): string {
  const packed = parsePacked(text);
  return packed?.type === 'user_message' && typeof packed.message === 'string' ? packed.message : text;
}

const API_IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

function partToBlock(part: LettaContentPart): TextBlock | ImageBlock | undefined {
  if (part.type === 'text') return part.text && part.text.trim() !== '' ? { type: 'text', text: part.text } : undefined;
  if (part.type === 'image' && part.source) {
    const s = part.source;
    if ((s.type === 'base64' || s.type === 'letta') && s.data) {
      // Letta stores any media type; the Anthropic API refuses all but four, and one refused
      // image in the history would fail every later request
      const mediaType = s.media_type === 'image/jpg' ? 'image/jpeg' : s.media_type;
      if (mediaType && API_IMAGE_TYPES.has(mediaType)) return { type: 'image', source: { type: 'base64', media_type: mediaType, data: s.data } };
      return { type: 'text', text: s.media_type ? `[image not kept: ${s.media_type} is not a format the model accepts (JPEG, PNG, GIF, WebP)]` : '[image not kept: Letta recorded no media type for it]' };
    }
    if (s.type === 'url' && s.url) return { type: 'image', source: { type: 'url', url: s.url } };
  }
  return { type: 'text', text: `[${part.type} content not exported by Letta]` };
}

function resultText(parts: LettaContentPart[]): string {
  return parts.map((p) => (p.type === 'text' ? p.text ?? '' : `[${p.type}]`)).join('\n');
}

function resultContent(value: LettaToolReturn['tool_return']): ToolResultBlock['content'] {
  if (Array.isArray(value)) {
    const blocks = value.map(partToBlock).filter((b): b is TextBlock | ImageBlock => b !== undefined);
    return blocks.length > 0 ? blocks : '(empty result)';
  }
  return value === '' || value === undefined || value === null ? '(empty result)' : value;
}

/** How many tool-call ids the converter remembers (for uniqueness and for send_message returns). */
const RECENT_IDS = 50_000;

/** A set of the most recently added values: the oldest is forgotten beyond `limit` (the same ones on every run). */
class RecentSet {
  readonly #values = new Set<string>();
  readonly #limit: number;
  constructor(limit: number) { this.#limit = limit; }
  has(value: string): boolean { return this.#values.has(value); }
  add(value: string): void {
    this.#values.delete(value);
    this.#values.add(value);
    if (this.#values.size > this.#limit) this.#values.delete(this.#values.values().next().value!);
  }
}
