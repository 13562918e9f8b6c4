// Letta-compatible memory tools: migrated agents' prompts name them, so names, arguments and
// error wording follow Letta's. Every edit is stored (with history) before the result returns,
// and the result shows the block's new value: the system prompt folds it in at the next turn.
import { z } from 'zod';
import { LaresError } from '../../errors.ts';
import type { MemoryBlock, MemoryStore, MessageRole } from '../../memory/store.ts';
import { Recall, shorten, type MessageHit } from '../../recall/recall.ts';
import { isoDate as parseDate } from '../../time.ts';
import { defineTool, type LocalTool } from '../local-tools.ts';
import type { ToolOutcome } from '../types.ts';

const label = z.string().min(1).describe('The memory block to edit, e.g. "human" or "persona".');

export function memoryTools(store: MemoryStore, recall: Recall = new Recall(store, undefined)): LocalTool[] {
  async function editableBlock(name: string): Promise<MemoryBlock> {
    const block = await store.getBlock(name);
    if (!block) {
      const labels = (await store.listBlocks()).map((b) => b.label).join(', ');
      throw new LaresError('MEMORY_TOOL_ERROR', `There is no memory block with label \`${name}\`. Existing blocks: ${labels}.`);
    }
    if (block.readOnly) throw new LaresError('MEMORY_TOOL_ERROR', `The memory block \`${name}\` is read-only and cannot be edited.`);
    return block;
  }

  async function save(block: MemoryBlock, value: string, tool: string): Promise<ToolOutcome> {
    // a block already over its limit (e.g. migrated) may still be edited, as long as the edit shrinks it
    if (value.length > block.charLimit && value.length > block.content.length) {
      throw new LaresError('MEMORY_TOOL_ERROR', `Edit failed: Exceeds ${block.charLimit} character limit (requested length: ${value.length}, ${value.length - block.charLimit} characters over). Shorten the text or remove something from \`${block.label}\` first.`);
    }
    const saved = await store.setBlockContent(block.label, value, `agent:${tool}`);
    return {
      content: `The memory block \`${saved.label}\` has been edited (${saved.content.length}/${saved.charLimit} characters). Its new value:\n${saved.content}`,
      isError: false,
      changedBlocks: [saved.label],
    };
  }

  /** The line of each (non-overlapping) occurrence of needle. */
  function lineNumbersOf(haystack: string, needle: string): number[] {
    const lines: number[] = [];
    let index = haystack.indexOf(needle);
    while (index !== -1) {
      lines.push(haystack.slice(0, index).split('\n').length);
      index = haystack.indexOf(needle, index + needle.length);
    }
    return lines;
  }

  async function replace(labelName: string, oldString: string, newString: string, tool: string): Promise<ToolOutcome> {
    const block = await editableBlock(labelName);
    if (oldString === '') throw new LaresError('MEMORY_TOOL_ERROR', 'old_string must not be empty; use memory_insert to add text.');
    const lines = lineNumbersOf(block.content, oldString);
    if (lines.length === 0) {
      throw new LaresError('MEMORY_TOOL_ERROR', `No replacement was performed, old_string \`${oldString}\` did not appear verbatim in memory block with label \`${labelName}\`.`);
    }
    if (lines.length > 1) {
      const where = [...new Set(lines)].map((line) => { const n = lines.filter((l) => l === line).length; return n > 1 ? `${line} (${n} times)` : String(line); });
      throw new LaresError('MEMORY_TOOL_ERROR', `No replacement was performed. Multiple occurrences of old_string \`${oldString}\` in lines ${where.join(', ')}. Please ensure it is unique.`);
    }
    return save(block, block.content.replace(oldString, () => newString), tool);
  }

  return [
    defineTool({
      name: 'memory_replace',
      description: 'Replace an exact, unique piece of text in a memory block with new text. old_string must appear exactly once (copy it verbatim, without line numbers). To delete text, pass an empty new_string.',
      schema: z.object({ label, old_string: z.string().describe('Exact text to replace; must appear once.'), new_string: z.string().describe('The text to put in its place.') }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      run: (a) => replace(a.label, a.old_string, a.new_string, 'memory_replace'),
    }),
    defineTool({
      name: 'memory_insert',
      description: 'Insert text into a memory block at a line (0 = at the beginning; omit or -1 = at the end).',
      schema: z.object({ label, new_string: z.string().min(1).describe('The text to insert.'), insert_line: z.number().int().min(-1).optional().describe('Line after which to insert: 0 for the top, -1 (default) for the end.') }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      run: async (a) => {
        const block = await editableBlock(a.label);
        const lines = block.content === '' ? [] : block.content.split('\n');
        const at = a.insert_line === undefined || a.insert_line === -1 ? lines.length : a.insert_line;
        if (at > lines.length) {
          throw new LaresError('MEMORY_TOOL_ERROR', `insert_line ${at} is past the end of \`${a.label}\`, which has ${lines.length} lines. Use -1 to append.`);
        }
        lines.splice(at, 0, ...a.new_string.split('\n'));
        return save(block, lines.join('\n'), 'memory_insert');
      },
    }),
    defineTool({
      name: 'memory_rethink',
      description: 'Rewrite a whole memory block with new content: for reorganising or condensing it. The old value is kept in the block history.',
      schema: z.object({ label, new_memory: z.string().describe('The complete new value of the block.') }),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      run: async (a) => save(await editableBlock(a.label), a.new_memory, 'memory_rethink'),
    }),
    defineTool({
      name: 'core_memory_append',
      description: 'Append text to the end of a memory block (Letta-compatible alias of memory_insert at the end).',
      schema: z.object({ label, content: z.string().min(1).describe('Text to append, on a new line.') }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      run: async (a) => {
        const block = await editableBlock(a.label);
        return save(block, block.content === '' ? a.content : `${block.content}\n${a.content}`, 'core_memory_append');
      },
    }),
    defineTool({
      name: 'core_memory_replace',
      description: 'Replace exact text in a memory block (Letta-compatible alias of memory_replace).',
      schema: z.object({ label, old_content: z.string().describe('Exact text to replace; must appear once.'), new_content: z.string().describe('Replacement text.') }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      run: (a) => replace(a.label, a.old_content, a.new_content, 'core_memory_replace'),
    }),
    defineTool({
      name: 'conversation_search',
      description: [
        'Search the whole conversation history, including messages that were summarised away, by keywords and by meaning. Each hit comes with its date, who said it, and the turns around it.',
        'Search well: make several short searches rather than one long one; use the distinctive words (names of people, places, pets, things, events) and synonyms; for "when" questions, search for the event, then read the dates of the hits.',
        'Narrow with start_date/end_date (e.g. the month in question) and roles (user = what the person said).',
      ].join(' '),
      schema: z.object({
        query: z.string().min(1).describe('A few keywords or a short question, e.g. "sister wedding Lisbon".'),
        roles: z.array(z.enum(['user', 'assistant', 'system'])).optional().describe('Only messages from these roles.'),
        limit: z.number().int().min(1).max(50).optional().describe('How many results (default 5).'),
        start_date: z.string().optional().describe('Only messages at or after this date (ISO 8601, e.g. 2026-01-31).'),
        end_date: z.string().optional().describe('Only messages at or before this date (ISO 8601).'),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
      run: async (a, context) => {
        const startDate = a.start_date ? isoDate(a.start_date, 'start_date', false) : undefined;
        const endDate = a.end_date ? isoDate(a.end_date, 'end_date', true) : undefined;
        const hits = await recall.searchMessages(a.query, { conversationId: context.conversationId, roles: a.roles as MessageRole[] | undefined, limit: a.limit ?? 5, startDate, endDate });
        const summaries = await recall.searchSummaries(a.query, { conversationId: context.conversationId, limit: 2, startDate, endDate });
        if (hits.length === 0 && summaries.length === 0) return { content: `No messages match "${a.query}". Try other words, a synonym, or a wider date range.`, isError: false };
        const parts = hits.map(formatHit);
        for (const s of summaries) parts.push(`[summary ${s.id}, written ${s.createdAt}, covers messages ${s.startMessageId ?? '?'}–${s.endMessageId ?? '?'}] ${truncate(s.summary, 600)}`);
        return { content: `${hits.length} message(s)${summaries.length ? ` and ${summaries.length} summary(ies)` : ''} for "${a.query}", best first:\n\n${parts.join('\n\n')}`, isError: false };
      },
    }),
    defineTool({
      name: 'archival_memory_insert',
      description: 'Save a passage to long-term archival memory (facts, notes, documents worth keeping but not always in view). Search it later with archival_memory_search.',
      schema: z.object({ content: z.string().min(1).describe('The text to store.'), tags: z.array(z.string().min(1)).optional().describe('Optional tags for filtering later.') }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      run: async (a) => {
        const passage = await store.insertPassage({ text: a.content, tags: a.tags ?? [] });
        return { content: `Saved to archival memory (passage ${passage.id}${passage.tags.length ? `, tags: ${passage.tags.join(', ')}` : ''}).`, isError: false };
      },
    }),
    defineTool({
      name: 'archival_memory_search',
      description: 'Search long-term archival memory by keywords and by meaning (best first), optionally only passages with all the given tags. Several short searches with distinctive words work best.',
      schema: z.object({
        query: z.string().min(1).describe('Keywords to look for.'),
        tags: z.array(z.string()).optional().describe('Only passages that have all these tags.'),
        top_k: z.number().int().min(1).max(50).optional().describe('How many results (default 5).'),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
      run: async (a) => {
        const hits = await recall.searchPassages(a.query, { tags: a.tags, limit: a.top_k ?? 5 });
        if (hits.length === 0) return { content: `No archival passages match "${a.query}".`, isError: false };
        return { content: hits.map((h) => `[${h.createdAt}] (passage ${h.id}${h.tags.length ? `, tags: ${h.tags.join(', ')}` : ''}) ${truncate(h.text, 1000)}`).join('\n'), isError: false };
      },
    }),
  ];
}

function isoDate(value: string, field: string, endOfDay: boolean): string {
  try {
    return parseDate(value, endOfDay);
  } catch {
    throw new LaresError('MEMORY_TOOL_ERROR', `${field} "${value}" is not a date; use ISO 8601 like 2026-01-31 or 2026-01-31T14:00:00Z.`);
  }
}

function formatHit(h: MessageHit): string {
  const around = (turns: MessageHit['before']) => turns.map((t) => `    ${t.role} (${t.createdAt}): ${t.content}`);
  return [
    `[${h.createdAt}] ${h.role}, message ${h.id}${h.compacted ? ' (summarised away)' : ''}:`,
    ...around(h.before),
    `  > ${shorten(h.content, 600)}`,
    ...around(h.after),
  ].join('\n');
}

function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max)}… (${value.length - max} more characters)`;
}
