// A fake Letta server (the open-source server's REST API) over real HTTP on 127.0.0.1.
// Faithful where Lares depends on it (letta/server/rest_api/routers/v1/agents.py,
// letta/services/message_manager.py, letta/server/server.py):
// - auth: `Authorization: Bearer <pw>` or `X-BARE-PASSWORD: password <pw>`, else 401 {"detail":"Unauthorized"}
// - agent ids must look like agent-<uuid> (422 otherwise); unknown agent → 404 {"detail":"Agent not found"}
// - GET messages: cursors are row ids (unknown → 404 "No message found with id ..."), `limit` counts
//   stored rows, each row expands into several items sharing its id, and the page comes back
//   oldest→newest even with order=desc (the server reverses it); default order desc, limit 100
// - bad query parameters → 422 with the FastAPI/pydantic detail
// Every request is recorded; faults can be injected (HTTP 500 or a dropped connection).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expandRows, SEND_MESSAGE_TOOL } from '../../src/letta/message-rows.ts';
import type { LettaAgent, LettaBlock, LettaMessageRow, LettaPassage } from '../../src/letta/types.ts';
import { makeRng, uuidFrom } from './letta-dataset.ts';

export interface RecordedRequest { index: number; method: string; path: string; query: Record<string, string | string[]>; headers: Record<string, string | string[] | undefined>; body: unknown }

export type Fault = 'http500' | 'drop' | undefined;

export interface FakeAgentData { agent: LettaAgent; blocks: LettaBlock[]; rows: LettaMessageRow[]; passages: LettaPassage[] }

/** What the fake agent does with a POSTed user message: returns the rows it adds. */
export type FakeResponder = (input: { text: string; agent: FakeAgentState; newId: () => string; now: () => string }) => LettaMessageRow[];

interface FakeAgentState extends FakeAgentData { pendingApproval?: { rowId: string; toolCallId: string; name: string } }

const AGENT_ID = /^agent-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface FakeLettaOptions { password?: string; agents?: FakeAgentData[]; responder?: FakeResponder; seed?: number }

export class FakeLettaServer {
  readonly requests: RecordedRequest[] = [];
  readonly agents = new Map<string, FakeAgentState>();
  password: string | undefined;
  responder: FakeResponder;
  /** decides, per request (1-based index), whether to fail it */
  fault: (request: RecordedRequest) => Fault = () => undefined;
  private server: Server | undefined;
  private readonly rng: () => number;
  url = '';

  constructor(options: FakeLettaOptions = {}) {
    this.password = options.password;
    this.responder = options.responder ?? defaultResponder;
    this.rng = makeRng(options.seed ?? 7);
    for (const a of options.agents ?? []) this.addAgent(a);
  }

  addAgent(data: FakeAgentData): void {
    this.agents.set(data.agent.id, { ...data, rows: [...data.rows], blocks: data.blocks.map((b) => ({ ...b })), passages: [...data.passages] });
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => { void this.handle(req, res); });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  /** Requests other than GET (tests assert a migration never writes). */
  writes(): RecordedRequest[] { return this.requests.filter((r) => r.method !== 'GET'); }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    if (raw) { try { body = JSON.parse(raw); } catch { body = raw; } }
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const record: RecordedRequest = { index: this.requests.length + 1, method: req.method ?? 'GET', path: url.pathname, query, headers: { ...req.headers }, body };
    this.requests.push(record);
    const fault = this.fault(record);
    if (fault === 'drop') { req.socket.destroy(); return; }
    if (fault === 'http500') { send(res, 500, { detail: 'An unknown error occurred' }); return; }
    try {
      this.route(record, res);
    } catch (error) {
      send(res, 500, { detail: 'An unknown error occurred', error: String(error) });
    }
  }

  private authorized(record: RecordedRequest): boolean {
    if (this.password === undefined) return true;
    if (['/v1/health', '/v1/health/'].includes(record.path)) return true;
    return record.headers['x-bare-password'] === `password ${this.password}` || record.headers.authorization === `Bearer ${this.password}`;
  }

  private route(r: RecordedRequest, res: ServerResponse): void {
    if (!this.authorized(r)) { send(res, 401, { detail: 'Unauthorized' }); return; }
    if (r.path === '/v1/health/' || r.path === '/v1/health') { send(res, 200, { version: '0.16.0', status: 'ok' }); return; }
    const m = /^\/v1\/agents\/([^/]+)(\/.*)?$/.exec(r.path);
    if (!m) { send(res, 404, { detail: 'Not Found' }); return; }
    const [, agentId, rest = ''] = m;
    const routes: Array<[string, RegExp, (match: RegExpExecArray) => void]> = [
      ['GET', /^\/?$/, () => this.getAgent(agentId, res)],
      ['GET', /^\/core-memory\/blocks\/?$/, () => this.listBlocks(agentId, r, res)],
      ['GET', /^\/core-memory\/blocks\/([^/]+)$/, (mm) => this.getBlock(agentId, decodeURIComponent(mm[1]), res)],
      ['PATCH', /^\/core-memory\/blocks\/([^/]+)$/, (mm) => this.patchBlock(agentId, decodeURIComponent(mm[1]), r, res)],
      ['GET', /^\/messages\/?$/, () => this.listMessages(agentId, r, res)],
      ['POST', /^\/messages\/?$/, () => this.sendMessage(agentId, r, res)],
      ['GET', /^\/archival-memory\/?$/, () => this.listPassages(agentId, r, res)],
    ];
    let pathMatched = false;
    for (const [method, re, fn] of routes) {
      const mm = re.exec(rest);
      if (!mm) continue;
      pathMatched = true;
      if (method !== r.method) continue;
      if (!AGENT_ID.test(agentId)) {
        send(res, 422, { trace_id: '', detail: `[{'type': 'string_pattern_mismatch', 'loc': ('path', 'agent_id'), 'msg': "String should match pattern 'agent-{uuid4}'", 'input': '${agentId}'}]`, examples: ['agent-123e4567-e89b-42d3-8456-426614174000'] });
        return;
      }
      fn(mm);
      return;
    }
    send(res, pathMatched ? 405 : 404, { detail: pathMatched ? 'Method Not Allowed' : 'Not Found' });
  }

  private agent(agentId: string, res: ServerResponse): FakeAgentState | undefined {
    const agent = this.agents.get(agentId);
    if (!agent) send(res, 404, { detail: 'Agent not found' });
    return agent;
  }

  private getAgent(agentId: string, res: ServerResponse): void {
    const a = this.agent(agentId, res);
    if (a) send(res, 200, { ...a.agent, message_ids: a.rows.slice(0, 1).map((row) => row.id), tools: [], sources: [], tags: [] });
  }

  private listBlocks(agentId: string, r: RecordedRequest, res: ServerResponse): void {
    const params = parseQuery(r.query, { limit: 'int', order: ['asc', 'desc'], after: 'str', before: 'str' }, res);
    if (!params) return;
    const a = this.agent(agentId, res);
    if (!a) return;
    let list = a.blocks.map((b, seq) => ({ b, seq }));
    const seqOf = (id: unknown) => list.find((x) => x.b.id === id)?.seq;
    if (params.after !== undefined) { const s = seqOf(params.after); if (s === undefined) { send(res, 404, { detail: `No block found with id '${String(params.after)}'` }); return; } list = list.filter((x) => x.seq > s); }
    if (params.before !== undefined) { const s = seqOf(params.before); if (s === undefined) { send(res, 404, { detail: `No block found with id '${String(params.before)}'` }); return; } list = list.filter((x) => x.seq < s); }
    if ((params.order ?? 'desc') === 'desc') list.reverse();
    send(res, 200, list.slice(0, (params.limit as number | undefined) ?? 100).map((x) => x.b));
  }

  private getBlock(agentId: string, label: string, res: ServerResponse): void {
    const a = this.agent(agentId, res);
    if (!a) return;
    const block = a.blocks.find((b) => b.label === label);
    if (!block) { send(res, 404, { detail: `Block with label ${label} not found for agent ${agentId}` }); return; }
    send(res, 200, block);
  }

  private patchBlock(agentId: string, label: string, r: RecordedRequest, res: ServerResponse): void {
    const a = this.agent(agentId, res);
    if (!a) return;
    const block = a.blocks.find((b) => b.label === label);
    if (!block) { send(res, 404, { detail: `Block with label ${label} not found for agent ${agentId}` }); return; }
    const update = r.body as Record<string, unknown> | undefined;
    if (!update || typeof update !== 'object' || ('value' in update && typeof update.value !== 'string')) {
      send(res, 422, { trace_id: '', detail: "[{'type': 'string_type', 'loc': ('body', 'value'), 'msg': 'Input should be a valid string'}]" });
      return;
    }
    for (const key of ['value', 'limit', 'description', 'read_only'] as const) if (key in update) (block as Record<string, unknown>)[key] = update[key];
    send(res, 200, block);
  }

  private listMessages(agentId: string, r: RecordedRequest, res: ServerResponse): void {
    const params = parseQuery(r.query, { limit: 'int', order: ['asc', 'desc'], after: 'str', before: 'str', use_assistant_message: 'bool', order_by: ['created_at'] }, res);
    if (!params) return;
    const a = this.agent(agentId, res);
    if (!a) return;
    // sequence_id = position in the row list; the query is the window [lo, hi)
    const index = this.rowIndex(a);
    let lo = 0;
    let hi = a.rows.length;
    for (const key of ['after', 'before'] as const) {
      if (params[key] === undefined) continue;
      const cursor = index.get(String(params[key]));
      if (cursor === undefined) { send(res, 404, { detail: `No message found with id '${String(params[key])}' for agent '${agentId}'.` }); return; }
      if (key === 'after') lo = Math.max(lo, cursor + 1); else hi = Math.min(hi, cursor);
    }
    const limit = (params.limit as number | undefined) ?? 100;
    const reverse = (params.order ?? 'desc') === 'desc';
    // order=desc selects the newest `limit` rows, but to_letta_messages_from_list(reverse=True)
    // followed by records[::-1] hands them back oldest→newest, each row's parts in order
    const pageRows = hi <= lo ? [] : reverse ? a.rows.slice(Math.max(lo, hi - limit), hi) : a.rows.slice(lo, Math.min(hi, lo + limit));
    const items = expandRows(pageRows, { useAssistantMessage: (params.use_assistant_message as boolean | undefined) ?? true, textIsAssistantMessage: a.agent.agent_type === 'letta_v1_agent' });
    send(res, 200, items);
  }

  private readonly indexes = new WeakMap<FakeAgentState, { length: number; map: Map<string, number> }>();

  private rowIndex(a: FakeAgentState): Map<string, number> {
    let cached = this.indexes.get(a);
    if (!cached || cached.length !== a.rows.length) {
      cached = { length: a.rows.length, map: new Map(a.rows.map((row, i) => [row.id, i])) };
      this.indexes.set(a, cached);
    }
    return cached.map;
  }

  private listPassages(agentId: string, r: RecordedRequest, res: ServerResponse): void {
    const params = parseQuery(r.query, { limit: 'int', ascending: 'bool', after: 'str', before: 'str', search: 'str' }, res);
    if (!params) return;
    const a = this.agent(agentId, res);
    if (!a) return;
    let list = a.passages.map((p, seq) => ({ p, seq }));
    for (const [key, keep] of [['after', (s: number, c: number) => s > c], ['before', (s: number, c: number) => s < c]] as const) {
      if (params[key] === undefined) continue;
      const cursor = a.passages.findIndex((p) => p.id === params[key]);
      if (cursor === -1) { send(res, 404, { detail: `No passage found with id '${String(params[key])}'` }); return; }
      list = list.filter((x) => keep(x.seq, cursor));
    }
    if (params.search) list = list.filter((x) => x.p.text.toLowerCase().includes(String(params.search).toLowerCase()));
    if (params.ascending === false) list.reverse();
    send(res, 200, list.slice(0, (params.limit as number | undefined) ?? 100).map((x) => x.p));
  }

  private sendMessage(agentId: string, r: RecordedRequest, res: ServerResponse): void {
    const a = this.agent(agentId, res);
    if (!a) return;
    const body = r.body as { messages?: Array<Record<string, unknown>>; input?: string; streaming?: boolean } | undefined;
    const messages = body?.messages ?? (typeof body?.input === 'string' ? [{ role: 'user', content: body.input }] : undefined);
    if (!Array.isArray(messages) || messages.length === 0) { send(res, 422, { detail: 'Messages must not be empty' }); return; }
    if (body?.streaming) { send(res, 422, { detail: 'streaming is not supported by this fake' }); return; }
    const newId = () => `message-${uuidFrom(this.rng)}`;
    const now = () => new Date().toISOString();
    const added: LettaMessageRow[] = [];
    let stopReason = 'end_turn';
    for (const message of messages) {
      if (message.type === 'approval') {
        const pending = a.pendingApproval;
        const approvals = (message.approvals as Array<{ tool_call_id: string; approve: boolean; reason?: string }> | undefined)
          ?? [{ tool_call_id: String(message.approval_request_id), approve: Boolean(message.approve), reason: message.reason as string | undefined }];
        const decision = approvals.find((x) => x.tool_call_id === pending?.toolCallId);
        if (!pending || !decision) { send(res, 400, { detail: `Invalid tool call IDs. Expected '${pending?.toolCallId ?? '(none pending)'}'` }); return; }
        a.pendingApproval = undefined;
        added.push({ id: newId(), role: 'approval', created_at: now(), approvals: [{ type: 'approval', tool_call_id: decision.tool_call_id, approve: decision.approve, reason: decision.reason ?? null }] });
        const result = decision.approve ? `ran ${pending.name}` : `Request to call tool denied by user. Reason: ${decision.reason ?? ''}`;
        added.push({ id: newId(), role: 'tool', name: pending.name, created_at: now(), tool_call_id: pending.toolCallId,
          tool_returns: [{ tool_call_id: pending.toolCallId, status: decision.approve ? 'success' : 'error', func_response: JSON.stringify({ status: decision.approve ? 'OK' : 'Failed', message: result, time: 'now' }) }] });
        const callId = `call_${uuidFrom(this.rng).replaceAll('-', '')}`;
        added.push({ id: newId(), role: 'assistant', created_at: now(), content: [{ type: 'text', text: 'Reporting back.' }],
          tool_calls: [{ id: callId, type: 'function', function: { name: SEND_MESSAGE_TOOL, arguments: JSON.stringify({ message: decision.approve ? `Done: ${result}` : 'Understood, I did not do it.' }) } }] });
        continue;
      }
      if (a.pendingApproval) {
        send(res, 409, { detail: { code: 'PENDING_APPROVAL', message: 'Cannot send a new message: The agent is waiting for approval on a tool call. Please approve or deny the pending request before continuing.', pending_request_id: a.pendingApproval.rowId } });
        return;
      }
      const content = message.content;
      const text = typeof content === 'string' ? content : Array.isArray(content) ? content.map((p: { text?: string }) => p.text ?? '').join('') : '';
      added.push({ id: newId(), role: 'user', created_at: now(), content: [{ type: 'text', text: JSON.stringify({ type: 'user_message', message: text, time: 'now' }) }] });
      const rows = this.responder({ text, agent: a, newId, now });
      added.push(...rows);
      const approval = rows.find((row) => row.role === 'approval' && row.tool_calls?.length);
      if (approval) {
        a.pendingApproval = { rowId: approval.id, toolCallId: approval.tool_calls![0].id, name: approval.tool_calls![0].function.name };
        stopReason = 'requires_approval';
      }
    }
    a.rows.push(...added);
    const response = expandRows(added.filter((row) => row.role !== 'user'), { useAssistantMessage: true });
    send(res, 200, {
      messages: response,
      stop_reason: { message_type: 'stop_reason', stop_reason: stopReason },
      usage: { message_type: 'usage_statistics', completion_tokens: 10, prompt_tokens: 100, total_tokens: 110, step_count: 1 },
    });
  }
}

/** The default fake agent: answers with send_message; a message containing "[approve]" triggers an approval request. */
export const defaultResponder: FakeResponder = ({ text, newId, now }) => {
  const callId = `call_${newId().slice(8, 20).replaceAll('-', '')}`;
  if (text.includes('[approve]')) {
    return [{ id: newId(), role: 'approval', created_at: now(), content: [{ type: 'text', text: 'This needs approval.' }],
      tool_calls: [{ id: callId, type: 'function', function: { name: 'write_file', arguments: JSON.stringify({ path: '/tmp/x.txt', content: text }) } }] }];
  }
  return [
    { id: newId(), role: 'assistant', created_at: now(), content: [{ type: 'text', text: 'The user said something; answer.' }],
      tool_calls: [{ id: callId, type: 'function', function: { name: SEND_MESSAGE_TOOL, arguments: JSON.stringify({ message: `You said: ${text}` }) } }] },
    { id: newId(), role: 'tool', name: SEND_MESSAGE_TOOL, created_at: now(), tool_call_id: callId,
      tool_returns: [{ tool_call_id: callId, status: 'success', func_response: JSON.stringify({ status: 'OK', message: null, time: 'now' }) }] },
  ];
};

type ParamSpec = Record<string, 'int' | 'str' | 'bool' | string[]>;

/** FastAPI-style query validation: a bad value is a 422 with a pydantic-like detail. */
function parseQuery(query: Record<string, string | string[]>, spec: ParamSpec, res: ServerResponse): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [key, type] of Object.entries(spec)) {
    const raw = query[key];
    if (raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.at(-1)! : raw;
    if (type === 'int') {
      if (!/^-?\d+$/.test(value)) return bad(res, 'int_parsing', key, 'Input should be a valid integer, unable to parse string as an integer', value);
      out[key] = Number(value);
    } else if (type === 'bool') {
      const v = value.toLowerCase();
      if (!['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(v)) return bad(res, 'bool_parsing', key, 'Input should be a valid boolean, unable to interpret input', value);
      out[key] = ['true', '1', 'yes', 'on'].includes(v);
    } else if (Array.isArray(type)) {
      if (!type.includes(value)) return bad(res, 'literal_error', key, `Input should be ${type.map((t) => `'${t}'`).join(' or ')}`, value);
      out[key] = value;
    } else {
      out[key] = value;
    }
  }
  return out;
}

function bad(res: ServerResponse, type: string, key: string, msg: string, input: string): undefined {
  send(res, 422, { trace_id: '', detail: `[{'type': '${type}', 'loc': ('query', '${key}'), 'msg': "${msg}", 'input': '${input}'}]` });
  return undefined;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
