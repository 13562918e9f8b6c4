// Expands stored Letta message rows into the LettaMessage items the REST API returns,
// as letta/schemas/message.py (Message.to_letta_messages) does. Used to read `.af` agent
// files (which hold rows) and by the fake Letta server in tests.
import type { LettaContentPart, LettaMessage, LettaMessageRow, LettaToolReturn } from './types.ts';

export const SEND_MESSAGE_TOOL = 'send_message';

export interface ExpandOptions {
  /** the server's default (true): send_message calls become assistant_message items */
  useAssistantMessage: boolean;
  /** letta_v1_agent: an assistant row's text is the reply, not inner thoughts */
  textIsAssistantMessage?: boolean;
  /** keep the row's full-precision time (agent files); the REST API sends whole seconds */
  preciseDates?: boolean;
}

/** Letta stores UTC; older files write it without an offset ("2025-04-01T03:47:27.492924"). */
export function parseLettaTime(value: string): Date {
  const naive = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value);
  return new Date(naive ? `${value}Z` : value);
}

/** Letta serializes dates with second precision and an explicit offset: 2025-10-10T07:14:29+00:00. */
export function lettaDate(iso: string): string {
  const date = parseLettaTime(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19)}+00:00`;
}

function preciseDate(iso: string): string {
  const date = parseLettaTime(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString();
}

/** Message.generate_otid_from_id: the row's uuid with its low 7 bits set to the part index. */
export function otidFromId(messageId: string, index: number): string {
  const hex = messageId.replace(/^message-/, '').replaceAll('-', '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) return `${messageId}-${index}`;
  const value = (BigInt(`0x${hex}`) & ~0x7Fn) | BigInt(index & 0x7F);
  const s = value.toString(16).padStart(32, '0');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** letta/system.py unpack_message: only {"type":"user_message","message":...} is unwrapped. */
export function unpackMessage(packed: string): string {
  let parsed: unknown;
  try { parsed = JSON.parse(packed); } catch { return packed; }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return packed;
  const obj = parsed as Record<string, unknown>;
  if (!('message' in obj) || obj.type !== 'user_message') return packed;
  return obj.message as string;
}

function pyStr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** _parse_tool_response: {"status": "OK"|"Failed", "message": ...} → message text and status. */
export function parseToolResponse(response: string | LettaContentPart[] | null | undefined): { message: string | LettaContentPart[]; status: 'success' | 'error' } {
  if (Array.isArray(response)) return { message: response, status: 'success' };
  const text = response ?? '';
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch { throw new Error(`Failed to decode function return: ${text.slice(0, 200)}`); }
  if (!parsed || typeof parsed !== 'object') return { message: text, status: 'success' };
  const obj = parsed as Record<string, unknown>;
  const status = obj.status ?? 'OK';
  if (status !== 'OK' && status !== 'Failed') throw new Error(`Invalid status: ${String(status)}`);
  return { message: 'message' in obj ? pyStr(obj.message) : text, status: status === 'OK' ? 'success' : 'error' };
}

function base(row: LettaMessageRow, otidIndex: number | null): Pick<LettaMessage, 'id' | 'date' | 'name' | 'otid' | 'sender_id' | 'step_id' | 'run_id'> {
  return {
    id: row.id,
    date: lettaDate(row.created_at),
    name: row.name ?? null,
    otid: otidIndex === null ? (row.otid ?? null) : otidFromId(row.id, otidIndex),
    sender_id: row.sender_id ?? null,
    step_id: row.step_id ?? null,
    run_id: row.run_id ?? null,
  };
}

function contentParts(row: LettaMessageRow): NonNullable<Exclude<LettaMessageRow['content'], string>> {
  if (row.content == null) return [];
  return typeof row.content === 'string' ? [{ type: 'text', text: row.content }] : row.content;
}

function singleText(row: LettaMessageRow): string | undefined {
  const parts = contentParts(row);
  return parts.length === 1 && parts[0].type === 'text' ? (parts[0].text ?? '') : undefined;
}

function reasoningItems(row: LettaMessageRow, options: ExpandOptions): LettaMessage[] {
  const out: LettaMessage[] = [];
  for (const part of contentParts(row)) {
    const b = base(row, out.length);
    if (part.type === 'text') {
      if (options.textIsAssistantMessage) {
        const last = out.at(-1);
        if (last?.message_type === 'assistant_message') last.content = `${last.content as string}${part.text ?? ''}`;
        else out.push({ ...b, message_type: 'assistant_message', content: part.text ?? '' });
      } else {
        out.push({ ...b, message_type: 'reasoning_message', source: 'non_reasoner_model', reasoning: part.text ?? '', signature: null });
      }
    } else if (part.type === 'reasoning') {
      const last = out.at(-1);
      if (last?.message_type === 'reasoning_message') last.reasoning = `${last.reasoning ?? ''}${part.reasoning ?? ''}`;
      else out.push({ ...b, message_type: 'reasoning_message', source: 'reasoner_model', reasoning: part.reasoning ?? '', signature: part.signature ?? null });
    } else if (part.type === 'redacted_reasoning') {
      out.push({ ...b, message_type: 'hidden_reasoning_message', state: 'redacted', hidden_reasoning: part.data ?? null });
    } else if (part.type === 'omitted_reasoning') {
      out.push({ ...b, message_type: 'hidden_reasoning_message', state: 'omitted', hidden_reasoning: null });
    }
  }
  return out;
}

function toolCallItems(row: LettaMessageRow, start: number, options: ExpandOptions): LettaMessage[] {
  const calls = (row.tool_calls ?? []).map((c) => ({ name: c.function.name, arguments: c.function.arguments, tool_call_id: c.id }));
  const out: LettaMessage[] = [];
  if (!options.useAssistantMessage) {
    if (calls.length > 0) out.push({ ...base(row, start), message_type: 'tool_call_message', tool_call: calls[0], tool_calls: calls });
    return out;
  }
  let collected: typeof calls = [];
  const flush = () => {
    if (collected.length === 0) return;
    out.push({ ...base(row, start + out.length), message_type: 'tool_call_message', tool_call: collected[0], tool_calls: collected });
    collected = [];
  };
  for (const call of calls) {
    if (call.name !== SEND_MESSAGE_TOOL) { collected.push(call); continue; }
    flush();
    let args: unknown;
    try { args = JSON.parse(call.arguments); } catch { args = undefined; }
    if (!args || typeof args !== 'object' || !('message' in args)) continue; // the server logs and skips it
    const message = (args as Record<string, unknown>).message;
    out.push({ ...base(row, start + out.length), message_type: 'assistant_message', content: typeof message === 'string' ? message : JSON.stringify(message) });
  }
  flush();
  return out;
}

function toolReturnItem(row: LettaMessageRow): LettaMessage {
  let returns: LettaToolReturn[];
  if (row.tool_returns && row.tool_returns.length > 0) {
    returns = row.tool_returns.map((r, i) => {
      const parsed = parseToolResponse(r.func_response);
      return {
        type: 'tool' as const,
        tool_call_id: r.tool_call_id ?? (i === 0 && row.tool_returns!.length === 1 ? row.tool_call_id ?? '' : ''),
        status: parsed.status,
        tool_return: Array.isArray(r.func_response) ? r.func_response : parsed.message,
        stdout: r.stdout ?? null,
        stderr: r.stderr ?? null,
      };
    });
  } else {
    const text = singleText(row);
    if (text === undefined) throw new Error(`No valid tool returns to convert: ${row.id}`);
    const parsed = parseToolResponse(text);
    returns = [{ type: 'tool', tool_call_id: row.tool_call_id ?? '', status: parsed.status, tool_return: parsed.message, stdout: null, stderr: null }];
  }
  const first = returns[0];
  const firstText = typeof first.tool_return === 'string' ? first.tool_return : first.tool_return.map((p) => p.text ?? '').join('\n');
  return {
    ...base(row, 0), message_type: 'tool_return_message',
    tool_return: firstText, status: first.status, tool_call_id: first.tool_call_id, stdout: first.stdout ?? null, stderr: first.stderr ?? null,
    tool_returns: returns,
  };
}

/** One stored row → its LettaMessage items, in natural order. */
export function expandRow(row: LettaMessageRow, options: ExpandOptions): LettaMessage[] {
  const items = expandRowItems(row, options);
  if (options.preciseDates) for (const item of items) item.date = preciseDate(row.created_at);
  return items;
}

function expandRowItems(row: LettaMessageRow, options: ExpandOptions): LettaMessage[] {
  switch (row.role) {
    case 'assistant': {
      const out = row.content ? reasoningItems(row, options) : [];
      if (row.tool_calls) out.push(...toolCallItems(row, out.length, options));
      return out;
    }
    case 'tool':
    case 'function':
      return [toolReturnItem(row)];
    case 'user': {
      const text = singleText(row);
      const parts = contentParts(row);
      if (text === undefined && parts.length === 0) throw new Error(`Invalid user message (no text object on message): ${row.id}`);
      return [{ ...base(row, null), message_type: 'user_message', content: text !== undefined ? unpackMessage(text) : parts }];
    }
    case 'system': {
      const text = singleText(row);
      if (text === undefined) throw new Error(`Invalid system message (no text object on system): ${row.id}`);
      return [{ ...base(row, null), message_type: 'system_message', content: text }];
    }
    case 'summary': {
      const text = singleText(row);
      if (text === undefined) throw new Error(`Invalid summary message: ${row.id}`);
      return [{ ...base(row, null), message_type: 'user_message', content: unpackMessage(text) }];
    }
    case 'approval': {
      const out = row.content ? reasoningItems(row, options) : [];
      if (row.tool_calls) {
        const calls = row.tool_calls.map((c) => ({ name: c.function.name, arguments: c.function.arguments, tool_call_id: c.id }));
        out.push({ ...base(row, null), message_type: 'approval_request_message', tool_call: calls[0], tool_calls: calls });
      } else if (row.approvals && row.approvals.length > 0) {
        const approvals = row.approvals.map((a) => {
          if (a.type === 'tool' || 'func_response' in a || 'status' in a) {
            const r = a as LettaToolReturn & { func_response?: string };
            const parsed = r.func_response !== undefined ? parseToolResponse(r.func_response) : { message: r.tool_return, status: r.status };
            return { type: 'tool' as const, tool_call_id: r.tool_call_id, status: parsed.status, tool_return: parsed.message, stdout: r.stdout ?? null, stderr: r.stderr ?? null };
          }
          return a;
        });
        const first = approvals.find((a) => a.type !== 'tool' && 'approve' in a) as { approve: boolean; tool_call_id: string; reason?: string | null } | undefined;
        out.push({ ...base(row, null), message_type: 'approval_response_message', approvals, approve: first?.approve ?? null, approval_request_id: first?.tool_call_id ?? null, reason: first?.reason ?? null });
      } else {
        out.push({
          ...base(row, null), message_type: 'approval_response_message', approve: row.approve ?? null, approval_request_id: row.approval_request_id ?? null, reason: row.denial_reason ?? null,
          approvals: [{ type: 'approval', tool_call_id: row.approval_request_id ?? '', approve: row.approve ?? false, reason: row.denial_reason ?? null }],
        });
      }
      return out;
    }
    default:
      throw new Error(`Unknown role: ${String(row.role)}`);
  }
}

/**
 * Message.to_letta_messages_from_list: with use_assistant_message, the tool rows answering
 * send_message calls are dropped, but only when the calling row is in the same list (page).
 */
export function expandRows(rows: LettaMessageRow[], options: ExpandOptions): LettaMessage[] {
  let kept = rows;
  if (options.useAssistantMessage) {
    // a tool row is dropped when the row that called it made any send_message call (as the server does)
    const sendCalls = new Set<string>();
    for (const row of rows) {
      if (row.role !== 'assistant' || !row.tool_calls?.some((c) => c.function.name === SEND_MESSAGE_TOOL)) continue;
      for (const call of row.tool_calls) sendCalls.add(call.id);
    }
    kept = rows.filter((row) => !(row.role === 'tool' && row.tool_call_id && sendCalls.has(row.tool_call_id)));
  }
  return kept.flatMap((row) => expandRow(row, options));
}
