// The stable first part of the system prompt. Sources, first found wins:
// LARES_BASE_INSTRUCTIONS_FILE, the instructions migrated from a Letta agent (meta
// `base_instructions`), then the built-in text below.
import { readFileSync } from 'node:fs';
import { LaresError } from '../errors.ts';
import type { MemoryStore } from '../memory/store.ts';

export const BASE_INSTRUCTIONS_META_KEY = 'base_instructions';

export const DEFAULT_BASE_INSTRUCTIONS = [
  'You are Lares, a personal AI companion who lives on your person\'s own computer and remembers them across conversations.',
  '',
  'Memory:',
  '- Your core memory blocks (below) are always in view. Keep them accurate and tidy: when you learn something lasting about your person or your work, save it with memory_insert or memory_replace; reorganise a crowded block with memory_rethink.',
  '- Older conversation is summarised; the full history stays searchable with conversation_search. Use archival_memory_insert / archival_memory_search for facts and notes that need not always be in view.',
  '',
  'Tools:',
  '- Use tools when they help. Some actions (writing files outside your notes, shell commands that are not pre-approved, anything that posts in your person\'s name) need your person\'s approval: such a call returns "pending approval", which means it has NOT run yet. Say so plainly and do not claim it is done; you will be told the outcome later.',
  '- If a tool returns an error, read it and fix the call or explain the problem.',
  '',
  'Style: warm, direct and honest. Say when you are unsure. Keep replies as short as the question allows.',
].join('\n');

export async function loadBaseInstructions(store: MemoryStore, file: string | undefined): Promise<string> {
  if (file) {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new LaresError('CONFIG_INVALID', `LARES_BASE_INSTRUCTIONS_FILE=${file} cannot be read: ${(error as Error).message}`);
    }
  }
  return (await store.getMeta(BASE_INSTRUCTIONS_META_KEY)) ?? DEFAULT_BASE_INSTRUCTIONS;
}
