// Letta agent files (.af) built from our own seeded dataset, in the two shapes Letta has
// exported: the current multi-agent format (`agents` + `blocks`, file-local ids such as
// "agent-0"/"message-0", times with microseconds and an offset) and the older single-agent
// MemGPT format (top-level `core_memory` and `messages`, rows without ids, naive UTC times,
// tool results only in the row text). Each builder also returns what a faithful import must
// produce, so tests derive their expectations from the same data. Writing the file is the
// test's job (`agentFileJson`).
import type { LettaBlock, LettaMessageRow } from '../../src/letta/types.ts';
import type { LettaDataset } from './letta-dataset.ts';

export interface AgentFileFixture {
  /** the agent file as Letta writes it (ready for JSON.stringify) */
  file: Record<string, unknown>;
  /** the blocks the agent uses, as Lares must copy them (read_only as the format can carry it) */
  blocks: LettaBlock[];
  /** blocks in the file that belong to no exported agent (must not be imported) */
  foreignBlocks: LettaBlock[];
  /** the message rows in file order, with their UTC times at millisecond precision (what Lares stores) */
  rows: LettaMessageRow[];
  /** the system prompt without its rendered memory section */
  baseInstructions: string;
  /** what the import must keep, as in LettaDataset['expected'] */
  expected: LettaDataset['expected'];
}

const MODEL = 'fake-model-1';
const LLM_CONFIG = {
  model: MODEL, model_endpoint_type: 'openai', model_endpoint: 'http://127.0.0.1:1/v1', model_wrapper: null,
  context_window: 32000, put_inner_thoughts_in_kwargs: true, handle: `openai/${MODEL}`, temperature: 0.7,
  max_tokens: 4096, enable_reasoner: false, max_reasoning_tokens: 0,
};
const EMBEDDING_CONFIG = {
  embedding_endpoint_type: 'openai', embedding_endpoint: 'http://127.0.0.1:1/v1', embedding_model: 'fake-embedding-1',
  embedding_dim: 8, embedding_chunk_size: 300, handle: 'openai/fake-embedding-1', azure_endpoint: null, azure_version: null, azure_deployment: null,
};
const PACKED_TYPES = new Set(['user_message', 'heartbeat', 'login', 'system_alert']);

/** "2025-01-01T00:00:01.234Z" → "2025-01-01T00:00:01.234567" (+ "+00:00" when `offset`): Letta writes microseconds. */
function lettaTime(iso: string, index: number, offset: boolean): string {
  const micros = String((index * 7919) % 1000).padStart(3, '0');
  return `${iso.slice(0, 23)}${micros}${offset ? '+00:00' : ''}`;
}

function toolNames(rows: LettaMessageRow[]): string[] {
  return [...new Set(rows.flatMap((r) => (r.tool_calls ?? []).map((c) => c.function.name)))].sort();
}

function toolEntry(name: string, index: number, legacy: boolean): Record<string, unknown> {
  return {
    ...(legacy ? {} : { id: `tool-${index}` }),
    tool_type: name === 'send_message' || name.includes('memory') || name === 'conversation_search' ? 'letta_core' : 'custom',
    name, description: `The ${name} tool.`, source_type: 'python', tags: ['lares-test'], source_code: null,
    json_schema: { name, description: `The ${name} tool.`, parameters: { type: 'object', properties: { request_heartbeat: { type: 'boolean', description: 'Ask for another step.' } }, required: [] } },
    args_json_schema: null, return_char_limit: 6000, metadata_: {},
  };
}

function toolRules(legacy: boolean): Array<Record<string, unknown>> {
  return [
    { tool_name: 'send_message', type: 'exit_loop', ...(legacy ? {} : { prompt_template: null }) },
    { tool_name: 'conversation_search', type: 'continue_loop', ...(legacy ? {} : { prompt_template: null }) },
  ];
}

function copyExpected(e: LettaDataset['expected']): LettaDataset['expected'] {
  return { userTexts: [...e.userTexts], assistantTexts: [...e.assistantTexts], toolCalls: e.toolCalls.map((c) => ({ ...c })), events: [...e.events], summaries: e.summaries };
}

/**
 * The current format, as recent Letta exports it: one agent whose `messages` are its
 * in-context window (here the whole dataset history), blocks referenced by `block_ids`, plus
 * one block of nobody's (`foreignBlocks`) that an import must leave out. The agent's system
 * prompt carries the rendered memory section.
 */
export function makeAgentFileV2(dataset: LettaDataset): AgentFileFixture {
  const agentId = 'agent-0';
  const blocks = dataset.blocks.map((b, i) => ({ ...b, id: `block-${i}` }));
  const foreign: LettaBlock = { id: `block-${blocks.length}`, label: 'sleeptime_notes', value: 'Notes of another agent.\n', limit: 1500, description: 'Not this agent\'s block.', read_only: false };
  const rendered = (dataset.rows[0].content as Array<{ text?: string }>)[0].text!;
  const names = toolNames(dataset.rows);
  const messages = dataset.rows.map((r, i) => ({
    type: 'message', role: r.role, content: r.content ?? null, name: r.name ?? null, otid: null, sender_id: null, batch_item_id: null, group_id: null,
    id: `message-${i}`, model: MODEL, agent_id: agentId,
    tool_calls: r.tool_calls ?? null,
    // Letta also records the first call's id on the calling assistant row
    tool_call_id: r.tool_call_id ?? r.tool_calls?.[0]?.id ?? null,
    tool_returns: (r.tool_returns ?? []).map((t) => ({ ...t, stdout: null, stderr: null })),
    ...(r.approvals ? { approvals: r.approvals } : {}),
    created_at: lettaTime(r.created_at, i, true), approve: r.approve ?? null, approval_request_id: r.approval_request_id ?? null, denial_reason: r.denial_reason ?? null,
  }));
  const file = {
    agents: [{
      name: dataset.agent.name ?? 'lares', memory_blocks: [], tools: [], tool_ids: names.map((_, i) => `tool-${i}`), source_ids: [],
      block_ids: blocks.map((b) => b.id), tool_rules: toolRules(false), tags: ['lares', 'test'],
      system: rendered, agent_type: dataset.agent.agent_type ?? 'memgpt_v2_agent', llm_config: LLM_CONFIG, embedding_config: EMBEDDING_CONFIG,
      initial_message_sequence: null, include_base_tools: false, include_multi_agent_tools: false, include_base_tool_rules: false, include_default_source: false,
      description: null, metadata: null, message_buffer_autoclear: false, enable_sleeptime: false, response_format: null, timezone: 'UTC',
      id: agentId, in_context_message_ids: messages.map((m) => m.id), messages, files_agents: [], group_ids: [],
    }],
    groups: [],
    blocks: [...blocks, foreign].map((b) => ({
      value: b.value, limit: b.limit, project_id: null, template_name: null, is_template: false, template_id: null, base_template_id: null,
      deployment_id: null, entity_id: null, preserve_on_migration: false, label: b.label, read_only: b.read_only ?? false,
      description: b.description ?? null, metadata: {}, hidden: null, id: b.id,
    })),
    files: [], sources: [], tools: names.map((n, i) => toolEntry(n, i, false)), mcp_servers: [],
    metadata: { revision_id: 'lares-test-revision' },
    created_at: lettaTime(dataset.rows.at(-1)!.created_at, dataset.rows.length, true),
  };
  return {
    file, blocks, foreignBlocks: [foreign], rows: dataset.rows,
    baseInstructions: (dataset.agent.system ?? '').replace('{CORE_MEMORY}', '').trim(),
    expected: copyExpected(dataset.expected),
  };
}

/** MemGPT's memory rendering before <memory_blocks>: "### Memory [last modified: …]" and <label characters="n/limit">. */
function legacyMemory(blocks: LettaBlock[]): string {
  return [
    '### Memory [last modified: 2025-01-01 12:00:00 AM UTC+0000]',
    '0 previous messages between you and the user are stored in recall memory (use functions to access them)',
    '0 total memories you created are stored in archival memory (use functions to access them)',
    '',
    'Core memory shown below (limited in size, additional information stored in archival / recall memory):',
    ...blocks.map((b) => `<${b.label} characters="${b.value.length}/${b.limit}">\n${b.value}\n</${b.label}>`),
  ].join('\n');
}

/**
 * The older single-agent format (MemGPT-era Letta, agent_type "memgpt_agent"): no ids, no
 * approvals, text-only content, every user message JSON-wrapped, tool results only in the tool
 * row's text. The dataset is brought to that shape: approval turns are left out (and their
 * calls from the expectations), reasoning becomes inner-thought text, images are dropped.
 */
export function makeAgentFileV1(dataset: LettaDataset): AgentFileFixture {
  const plainSystem = (dataset.agent.system ?? '').replace('{CORE_MEMORY}', '').trim();
  const blocks: LettaBlock[] = dataset.blocks.map(({ id: _id, ...b }) => ({ ...b, read_only: false })); // no read-only flag in this format
  const rendered = `${plainSystem}\n\n${legacyMemory(blocks)}`;
  const expected = copyExpected(dataset.expected);
  expected.events[0] = rendered;

  const approvalCalls = new Set(dataset.rows.filter((r) => r.role === 'approval').flatMap((r) => (r.tool_calls ?? []).map((c) => c.id)));
  expected.toolCalls = expected.toolCalls.filter((c) => !approvalCalls.has(c.id));
  const rows: LettaMessageRow[] = [];
  for (const r of dataset.rows) {
    if (r.role === 'approval' || (r.role === 'tool' && r.tool_call_id && approvalCalls.has(r.tool_call_id))) continue;
    const parts = typeof r.content === 'string' ? [{ type: 'text', text: r.content }] : (r.content ?? []);
    let texts = parts.flatMap((p) => p.type === 'text' ? [p.text ?? ''] : p.type === 'reasoning' ? [p.reasoning ?? ''] : []);
    if (r.role === 'system') texts = [rendered];
    if (r.role === 'user' || r.role === 'summary') texts = texts.map((t) => isPacked(t) ? t : JSON.stringify({ type: 'user_message', message: t, time: '2025-01-01 10:00:00 AM UTC+0000' }, null, 2));
    rows.push({ ...r, role: r.role === 'summary' ? 'user' : r.role, content: texts.map((text) => ({ type: 'text', text })) });
  }
  const names = toolNames(rows);
  const messages = rows.map((r, i) => ({
    created_at: lettaTime(r.created_at, i, false), group_id: null, model: MODEL, name: r.name ?? null, role: r.role, content: r.content,
    tool_call_id: r.tool_call_id ?? null, tool_calls: r.tool_calls ?? [], tool_returns: [], updated_at: lettaTime(r.created_at, i, false),
  }));
  const created = lettaTime(rows[0].created_at, 0, false);
  const file = {
    agent_type: 'memgpt_agent',
    core_memory: blocks.map((b) => ({ created_at: created, description: b.description ?? null, is_template: false, label: b.label, limit: b.limit, metadata_: {}, template_name: null, updated_at: created, value: b.value })),
    created_at: created, description: 'A Lares test agent in the older agent file format.',
    embedding_config: EMBEDDING_CONFIG, llm_config: LLM_CONFIG, message_buffer_autoclear: false,
    in_context_message_indices: messages.map((_, i) => i), messages,
    metadata_: null, multi_agent_group: null, name: dataset.agent.name ?? 'lares', system: rendered, tags: [],
    tool_exec_environment_variables: [], tool_rules: toolRules(true), tools: names.map((n, i) => toolEntry(n, i, true)),
    updated_at: lettaTime(rows.at(-1)!.created_at, rows.length, false), version: '0.6.47',
  };
  return { file, blocks, foreignBlocks: [], rows, baseInstructions: plainSystem, expected };
}

function isPacked(text: string): boolean {
  try {
    const parsed = JSON.parse(text) as unknown;
    return !!parsed && typeof parsed === 'object' && PACKED_TYPES.has(String((parsed as Record<string, unknown>).type));
  } catch { return false; }
}

/** The file's text, pretty-printed as Letta writes it. */
export function agentFileJson(fixture: AgentFileFixture): string {
  return JSON.stringify(fixture.file, null, 2);
}
