// What model calls cost: a built-in table of published prices in USD per million tokens, which a
// prices file (LARES_PRICES_FILE) overrides and extends. A model the table does not know has no
// price (undefined), never a price of zero: a report says so instead of under-counting.
import { readFileSync } from 'node:fs';
import { LaresError } from '../errors.ts';

/** USD per million tokens. `input` is uncached input; cache reads and writes are priced apart. */
export interface ModelPrice { input: number; output: number; cacheRead: number; cacheWrite: number }

/** Model name or name prefix → price. */
export type PriceTable = ReadonlyMap<string, ModelPrice>;

/** Token counts of one call or of many added up (as stored in llm_usage). */
export interface TokenUsage { model: string; inputTokens: number; cacheReadTokens: number; cacheWriteTokens: number; outputTokens: number }

/** Anthropic: a 5-minute cache write costs 1.25 × input, a cache read 0.1 × input. */
const claude = (input: number, output: number): ModelPrice => ({ input, output, cacheRead: round(input * 0.1), cacheWrite: round(input * 1.25) });
/** OpenAI: cached input at its own price, no charge for writing the cache. */
const openai = (input: number, output: number, cacheRead: number): ModelPrice => ({ input, output, cacheRead, cacheWrite: input });

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/**
 * Published list prices (standard tier, prompts under 200k tokens; batch and long-context prices
 * are not modelled). A key ending in '-' covers a whole family: a Claude model newer than the
 * entries below is priced like the family's latest listed model until this table (or a prices
 * file) says otherwise.
 */
export const BUILTIN_PRICES: Readonly<Record<string, ModelPrice>> = {
  // Claude Opus: 4 and 4.1 at $15/$75, 4.5 and later at $5/$25
  'claude-opus-': claude(5, 25),
  'claude-opus-4-0': claude(15, 75),
  'claude-opus-4-20250514': claude(15, 75),
  'claude-opus-4-1': claude(15, 75),
  'claude-opus-4-5': claude(5, 25),
  'claude-opus-4-6': claude(5, 25),
  'claude-3-opus': claude(15, 75),
  // Claude Sonnet: $3/$15 in every generation
  'claude-sonnet-': claude(3, 15),
  'claude-sonnet-4-0': claude(3, 15),
  'claude-sonnet-4-20250514': claude(3, 15),
  'claude-sonnet-4-5': claude(3, 15),
  'claude-sonnet-4-6': claude(3, 15),
  'claude-3-7-sonnet': claude(3, 15),
  'claude-3-5-sonnet': claude(3, 15),
  // Claude Haiku
  'claude-haiku-': claude(1, 5),
  'claude-haiku-4-5': claude(1, 5),
  'claude-3-5-haiku': claude(0.8, 4),
  'claude-3-haiku': { input: 0.25, output: 1.25, cacheRead: 0.03, cacheWrite: 0.3 },
  // OpenAI
  'gpt-4o': openai(2.5, 10, 1.25),
  'gpt-4o-mini': openai(0.15, 0.6, 0.075),
  'gpt-4.1': openai(2, 8, 0.5),
  'gpt-4.1-mini': openai(0.4, 1.6, 0.1),
  'gpt-4.1-nano': openai(0.1, 0.4, 0.025),
  'gpt-5': openai(1.25, 10, 0.125),
  'gpt-5-mini': openai(0.25, 2, 0.025),
  'gpt-5-nano': openai(0.05, 0.4, 0.005),
  'o4-mini': openai(1.1, 4.4, 0.275),
};

/** What may follow a prefix key that does not end in a separator: a dated snapshot, a tag, a variant. */
const SEPARATORS = new Set(['-', ':', '@']);

/** The names a model is looked up by: as given, then without an OpenRouter-style vendor prefix (Claude's dots as dashes). */
function candidates(model: string): string[] {
  const names = [model.trim()];
  const slash = names[0].lastIndexOf('/');
  if (slash >= 0) names.push(names[0].slice(slash + 1));
  const bare = names.at(-1)!;
  if (bare.startsWith('claude-') && bare.includes('.')) names.push(bare.replace(/\./g, '-'));
  return [...new Set(names.filter(Boolean))];
}

/** A model's price: an exact name first, then the longest key the name starts with; undefined when unknown. */
export function priceOf(model: string, table: PriceTable): ModelPrice | undefined {
  const names = candidates(model);
  for (const name of names) {
    const exact = table.get(name);
    if (exact) return exact;
  }
  let best: { key: string; price: ModelPrice } | undefined;
  for (const [key, price] of table) {
    if (best && key.length <= best.key.length) continue;
    const matches = names.some((name) => name.length > key.length && name.startsWith(key) && (SEPARATORS.has(key.at(-1)!) || SEPARATORS.has(name[key.length])));
    if (matches) best = { key, price };
  }
  return best?.price;
}

/** What the calls cost in USD, or undefined when the model has no price. */
export function costOf(usage: TokenUsage, table: PriceTable): number | undefined {
  const price = priceOf(usage.model, table);
  if (!price) return undefined;
  return (usage.inputTokens * price.input + usage.cacheReadTokens * price.cacheRead + usage.cacheWriteTokens * price.cacheWrite + usage.outputTokens * price.output) / 1_000_000;
}

const FIELDS = ['input', 'output', 'cacheRead', 'cacheWrite'] as const;

/**
 * The built-in prices, with a prices file's entries over them (LARES_PRICES_FILE): JSON
 * `{ "model-or-prefix": { "input": 3, "output": 15, "cacheRead": 0.3, "cacheWrite": 3.75 } }`,
 * USD per million tokens. input and output are required; cache reads and writes cost what input
 * costs when left out. A file that cannot be read or holds bad entries is an error listing them all.
 */
export function loadPrices(file?: string): PriceTable {
  const table = new Map<string, ModelPrice>(Object.entries(BUILTIN_PRICES));
  if (!file) return table;
  const fix = `Fix LARES_PRICES_FILE (${file}): a JSON object like {"qwen3:8b": {"input": 0, "output": 0}, "my-model": {"input": 3, "output": 15, "cacheRead": 0.3, "cacheWrite": 3.75}}, prices in USD per million tokens.`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : (error as Error).message;
    throw new LaresError('CONFIG_INVALID', `cannot read the prices file ${file}: ${reason}. ${fix}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new LaresError('CONFIG_INVALID', `the prices file ${file} must hold a JSON object of model names to prices. ${fix}`);
  }
  const problems: string[] = [];
  for (const [model, entry] of Object.entries(parsed)) {
    const where = `  ${JSON.stringify(model)}`;
    if (!model.trim()) { problems.push(`${where}: the model name is empty`); continue; }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) { problems.push(`${where}: expected an object like {"input": 3, "output": 15}`); continue; }
    const values = entry as Record<string, unknown>;
    const unknown = Object.keys(values).filter((k) => !(FIELDS as readonly string[]).includes(k));
    const bad = FIELDS.filter((f) => values[f] !== undefined && !(typeof values[f] === 'number' && Number.isFinite(values[f]) && values[f] >= 0));
    const missing = (['input', 'output'] as const).filter((f) => values[f] === undefined);
    const reasons = [
      ...missing.map((f) => `${f} is missing`),
      ...bad.map((f) => `${f} must be a number of at least 0 (USD per million tokens), not ${JSON.stringify(values[f])}`),
      ...unknown.map((k) => `unknown field ${JSON.stringify(k)} (expected ${FIELDS.join(', ')})`),
    ];
    if (reasons.length > 0) { problems.push(`${where}: ${reasons.join('; ')}`); continue; }
    const input = values.input as number;
    table.set(model.trim(), {
      input, output: values.output as number,
      cacheRead: (values.cacheRead as number | undefined) ?? input,
      cacheWrite: (values.cacheWrite as number | undefined) ?? input,
    });
  }
  if (problems.length > 0) {
    throw new LaresError('CONFIG_INVALID', `the prices file ${file} has ${problems.length} bad ${problems.length === 1 ? 'entry' : 'entries'}:\n${problems.join('\n')}\n${fix}`);
  }
  return table;
}
