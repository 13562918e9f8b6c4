// A seeded Letta agent dataset: stored message rows as the open-source server keeps them,
// with every message type and the awkward cases a real history has (legacy JSON-wrapped user
// messages, heartbeats, login events, system alerts, summary alerts, tool calls with success
// and error returns, calls with no return, approvals, reasoning, unicode, 50k-character and
// SQL-hostile text, equal timestamps). `expected` lists what a faithful migration must keep.
import type { LettaAgent, LettaBlock, LettaMessageRow, LettaPassage } from '../../src/letta/types.ts';

export interface LettaDataset {
  agent: LettaAgent;
  blocks: LettaBlock[];
  rows: LettaMessageRow[];
  passages: LettaPassage[];
  expected: {
    userTexts: string[];
    assistantTexts: string[];
    toolCalls: Array<{ id: string; name: string; result?: { text: string; isError: boolean } }>;
    events: string[];
    summaries: number;
  };
}

export function makeRng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 0x100000000;
  };
}

export function uuidFrom(rng: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rng() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

const TEXTS = [
  'Good morning! Can you remind me what we planned for today?',
  'Ciao! Com\'è andata la riunione? 😊 Ünïcödé — 日本語のテキスト — עברית — 🏠🔥',
  "Robert'); DROP TABLE messages;-- and also ' OR '1'='1",
  'He said "quote" and \'single\' and `backtick` and \\ backslash and %s %d {CORE_MEMORY}',
  'Line one\nLine two\r\nLine three\ttabbed\u0000nul? no: \u2028 separator',
  'Emoji sequence 👩‍👩‍👧‍👦 and combining é (e + \u0301) and zero width \u200b joiner',
  'SELECT * FROM memory_blocks WHERE label = \'persona\'; -- "comment"',
  '{"not": "a letta wrapper", "type": "my_json"}',
];

function pick<T>(rng: () => number, items: T[]): T { return items[Math.floor(rng() * items.length)]; }

/**
 * `summaryRate`: the share of turns that are a Letta summary alert (default 0.03). A long history
 * with very few (0.00008: about three in 100,000 rows) is where one alert covers most of it.
 */
export function makeLettaDataset(options: { messages: number; seed?: number; passages?: number; agentId?: string; summaryRate?: number }): LettaDataset {
  const rng = makeRng(options.seed ?? 42);
  const agentId = options.agentId ?? `agent-${uuidFrom(rng)}`;
  const blocks: LettaBlock[] = [
    { id: `block-${uuidFrom(rng)}`, label: 'persona', value: 'I am Lares 🏠, a household spirit.\nI speak plainly.\n  (indented line with trailing spaces)  \n', limit: 5000, description: 'The persona block: who I am.', read_only: false },
    { id: `block-${uuidFrom(rng)}`, label: 'human', value: 'Name: Daniele\r\nLikes: espresso ☕, Rust, \'quotes\' and "double quotes"\r\n', limit: 4000, description: 'The human block: facts about my person.', read_only: false },
    { id: `block-${uuidFrom(rng)}`, label: 'state', value: '', limit: 3000, description: 'Current tasks and open threads.', read_only: false },
    { id: `block-${uuidFrom(rng)}`, label: 'ideas', value: `Ideas:\n- ${'long idea '.repeat(300)}\n- 日本語のアイデア`, limit: 10000, description: 'Ideas worth coming back to.', read_only: false },
    { id: `block-${uuidFrom(rng)}`, label: 'guidelines', value: 'Never delete files without asking.', limit: 2000, description: null, read_only: true },
  ];
  const rows: LettaMessageRow[] = [];
  const expected: LettaDataset['expected'] = { userTexts: [], assistantTexts: [], toolCalls: [], events: [], summaries: 0 };
  let clock = Date.parse('2025-01-01T00:00:00Z');
  const time = () => {
    if (rng() < 0.6) clock += Math.floor(rng() * 90_000); // else: same timestamp as the previous row
    return new Date(clock).toISOString();
  };
  const id = () => `message-${uuidFrom(rng)}`;
  const packed = (obj: Record<string, unknown>) => JSON.stringify(obj, null, 2);
  const fnResponse = (ok: boolean, message: unknown) => packed({ status: ok ? 'OK' : 'Failed', message, time: '2025-01-01 10:00:00 AM UTC+0000' });
  let callCounter = 0;
  const callId = () => {
    callCounter++;
    const r = rng();
    if (r < 0.5) return `call_${uuidFrom(rng).replaceAll('-', '').slice(0, 24)}`;
    if (r < 0.9) return uuidFrom(rng);
    return `tool:call.${callCounter}`; // not a valid Anthropic id: must be renamed
  };

  const system = 'You are Lares, a helpful companion.\nFollow your persona.\n\n{CORE_MEMORY}';
  const memory = `<memory_blocks>\nThe following memory blocks are currently engaged in your core memory unit:\n\n${blocks.map((b) => `<${b.label}>\n<description>\n${b.description ?? ''}\n</description>\n<metadata>\n- chars_current=${b.value.length}\n- chars_limit=${b.limit}\n</metadata>\n<value>\n${b.value}\n</value>\n</${b.label}>`).join('\n\n')}\n\n</memory_blocks>\n\n<memory_metadata>\n- AGENT_ID: ${agentId}\n</memory_metadata>`;
  rows.push({ id: id(), role: 'system', content: [{ type: 'text', text: system.replace('{CORE_MEMORY}', memory) }], created_at: time() });
  expected.events.push((rows[0].content as Array<{ text?: string }>)[0].text!);

  const sendMessage = (reply: string, reasoning: string) => {
    const cid = callId();
    const rowId = id();
    rows.push({ id: rowId, role: 'assistant', created_at: time(), content: [{ type: 'text', text: reasoning }],
      tool_calls: [{ id: cid, type: 'function', function: { name: 'send_message', arguments: JSON.stringify({ message: reply, request_heartbeat: false }) } }] });
    rows.push({ id: id(), role: 'tool', name: 'send_message', created_at: time(), tool_call_id: cid, content: [{ type: 'text', text: fnResponse(true, null) }],
      tool_returns: [{ tool_call_id: cid, status: 'success', func_response: fnResponse(true, null) }] });
    expected.assistantTexts.push(reply);
  };

  let turn = 0;
  while (rows.length < options.messages) {
    turn++;
    const kind = rng();
    const text = rng() < 0.01 ? `LONG ${turn}: ${'All work and no play makes Jack a dull boy. ✨'.repeat(1100)}`.slice(0, 50_000) : `${pick(rng, TEXTS)} #${turn}`;
    if (kind < 0.35) {
      // a plain turn; some user messages are stored JSON-wrapped (older Letta)
      const wrapped = rng() < 0.4;
      rows.push({ id: id(), role: 'user', created_at: time(), content: [{ type: 'text', text: wrapped ? packed({ type: 'user_message', message: text, time: '2025-01-01 10:00:00 AM UTC+0000' }) : text }] });
      expected.userTexts.push(text);
      sendMessage(`Reply ${turn}: ${pick(rng, TEXTS)}`, `Thinking about turn ${turn}…`);
    } else if (kind < 0.6) {
      // tool calls (one or two), success and error returns, a heartbeat, then a reply
      rows.push({ id: id(), role: 'user', created_at: time(), content: [{ type: 'text', text }] });
      expected.userTexts.push(text);
      const calls = Array.from({ length: rng() < 0.3 ? 2 : 1 }, (_, i) => ({ id: callId(), name: pick(rng, ['archival_memory_search', 'conversation_search', 'web_search', 'memory_replace']), args: { query: `q ${turn}.${i} 'x'` } }));
      rows.push({ id: id(), role: 'assistant', created_at: time(), content: [{ type: 'reasoning', reasoning: `Native reasoning ${turn}`, signature: `sig-${turn}` }],
        tool_calls: calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: JSON.stringify({ ...c.args, request_heartbeat: true }) } })) });
      for (const c of calls) {
        const ok = rng() < 0.75;
        const result = ok ? `Result for ${c.id}: ${pick(rng, TEXTS)}` : `Error: ${c.name} failed: 'timeout' ; DROP TABLE x`;
        rows.push({ id: id(), role: 'tool', name: c.name, created_at: time(), tool_call_id: c.id, content: [{ type: 'text', text: fnResponse(ok, result) }],
          tool_returns: [{ tool_call_id: c.id, status: ok ? 'success' : 'error', func_response: fnResponse(ok, result) }] });
        expected.toolCalls.push({ id: c.id, name: c.name, result: { text: result, isError: !ok } });
      }
      const heartbeat = packed({ type: 'heartbeat', reason: '[This is an automated system message hidden from the user] Function called using request_heartbeat=true, returning control', time: '2025-01-01 10:00:00 AM UTC+0000' });
      rows.push({ id: id(), role: 'user', created_at: time(), content: [{ type: 'text', text: heartbeat }] });
      expected.events.push(heartbeat);
      sendMessage(`Done with tools ${turn}.`, `Tools answered ${turn}`);
    } else if (kind < 0.68) {
      // a call whose return was never recorded (crash mid-step), then a new user message
      const c = { id: callId(), name: 'run_shell' };
      rows.push({ id: id(), role: 'assistant', created_at: time(), content: [{ type: 'redacted_reasoning', data: `opaque-${turn}` }],
        tool_calls: [{ id: c.id, type: 'function', function: { name: c.name, arguments: '{"command": "ls -la"}' } }] });
      expected.toolCalls.push({ id: c.id, name: c.name });
    } else if (kind < 0.76) {
      // an approval request, answered (approved → tool runs; denied → error return or nothing)
      const c = { id: callId(), name: 'write_file' };
      const approve = rng() < 0.5;
      rows.push({ id: id(), role: 'approval', created_at: time(), content: [{ type: 'text', text: `I should write the file ${turn}` }],
        tool_calls: [{ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify({ path: `/tmp/${turn}.txt`, content: text.slice(0, 100) }) } }] });
      rows.push({ id: id(), role: 'approval', created_at: time(), approvals: [{ type: 'approval', tool_call_id: c.id, approve, reason: approve ? null : 'not now' }] });
      if (approve || rng() < 0.5) {
        const result = approve ? `Wrote /tmp/${turn}.txt` : 'Request to call tool denied by user. Reason: not now';
        rows.push({ id: id(), role: 'tool', name: c.name, created_at: time(), tool_call_id: c.id, tool_returns: [{ tool_call_id: c.id, status: approve ? 'success' : 'error', func_response: fnResponse(approve, result) }] });
        expected.toolCalls.push({ id: c.id, name: c.name, result: { text: result, isError: !approve } });
      } else {
        expected.toolCalls.push({ id: c.id, name: c.name, result: { text: 'The owner denied this tool call: not now', isError: true } });
      }
      sendMessage(approve ? `File ${turn} written.` : `I left file ${turn} alone.`, 'After approval');
    } else if (kind < 0.84) {
      const login = packed({ type: 'login', last_login: 'Never (first login)', time: '2025-01-01 10:00:00 AM UTC+0000' });
      rows.push({ id: id(), role: 'user', created_at: time(), content: [{ type: 'text', text: login }] });
      expected.events.push(login);
    } else if (kind < 0.9) {
      const alert = packed({ type: 'system_alert', message: 'Warning: the conversation history will soon reach its maximum length and be trimmed.', time: '2025-01-01 10:00:00 AM UTC+0000' });
      rows.push({ id: id(), role: 'user', created_at: time(), content: [{ type: 'text', text: alert }] });
      expected.events.push(alert);
    } else if (kind < 0.9 + (options.summaryRate ?? 0.03)) {
      const summary = `Note: prior messages have been hidden from view due to conversation memory constraints.\nThe following is a summary of the previous messages:\n Summary ${turn}: we talked about espresso and 'SQL'.`;
      const alert = packed({ type: 'system_alert', message: summary, time: '2025-01-01 10:00:00 AM UTC+0000' });
      rows.push({ id: id(), role: rng() < 0.5 ? 'user' : 'summary', created_at: time(), content: [{ type: 'text', text: alert }] });
      expected.events.push(alert);
      expected.summaries++;
    } else {
      // an assistant reply without send_message (inner thoughts + a tool call + an image from the user)
      // Letta wraps every text part of a multi-part message (it unwraps only a lone text part)
      rows.push({ id: id(), role: 'user', created_at: time(), content: [{ type: 'text', text: packed({ type: 'user_message', message: text, time: '2025-01-01 10:00:00 AM UTC+0000' }) }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] });
      expected.userTexts.push(text);
      sendMessage(`Nice picture ${turn} 📷`, '');
    }
  }

  const passages: LettaPassage[] = Array.from({ length: options.passages ?? Math.max(3, Math.floor(options.messages / 20)) }, (_, i) => ({
    id: `passage-${uuidFrom(rng)}`, text: `Archival memory ${i}: ${pick(rng, TEXTS)}`, tags: i % 3 === 0 ? ['project', 'lares'] : [],
    created_at: new Date(Date.parse('2024-06-01T00:00:00Z') + i * 1000).toISOString(), embedding: [0.1, 0.2], embedding_config: { embedding_model: 'fake' },
  }));
  const agent: LettaAgent = { id: agentId, name: 'lares', system, agent_type: 'memgpt_v2_agent' };
  return { agent, blocks, rows, passages, expected };
}
