// Prices of model calls: the built-in table, how model names find their price, prices files, costOf.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DEFAULT_MODEL } from '../../src/config/config.ts';
import { BUILTIN_PRICES, costOf, loadPrices, priceOf } from '../../src/llm/pricing.ts';

const dir = mkdtempSync(join(tmpdir(), 'lares-prices-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function pricesFile(content: unknown): string {
  const file = join(dir, `prices-${++n}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const builtin = loadPrices();
/** [input, output, cacheRead, cacheWrite] of a model, or undefined */
const price = (model: string, table = builtin) => {
  const p = priceOf(model, table);
  return p && [p.input, p.output, p.cacheRead, p.cacheWrite];
};

describe('built-in prices', () => {
  test('Claude models at their published prices: cache write 1.25 × input, cache read 0.1 × input', () => {
    assert.deepEqual(price('claude-sonnet-4-20250514'), [3, 15, 0.3, 3.75]);
    assert.deepEqual(price('claude-sonnet-4-5'), [3, 15, 0.3, 3.75]);
    assert.deepEqual(price('claude-sonnet-4-6'), [3, 15, 0.3, 3.75]);
    assert.deepEqual(price('claude-opus-4-1'), [15, 75, 1.5, 18.75]);
    assert.deepEqual(price('claude-opus-4-20250514'), [15, 75, 1.5, 18.75]);
    assert.deepEqual(price('claude-opus-4-5'), [5, 25, 0.5, 6.25]);
    assert.deepEqual(price('claude-haiku-4-5'), [1, 5, 0.1, 1.25]);
    assert.deepEqual(price('claude-3-5-haiku-20241022'), [0.8, 4, 0.08, 1]);
  });

  test('OpenAI models at their published prices: cached input at its own price, cache writes at the input price', () => {
    assert.deepEqual(price('gpt-4o'), [2.5, 10, 1.25, 2.5]);
    assert.deepEqual(price('gpt-4o-mini'), [0.15, 0.6, 0.075, 0.15]);
    assert.deepEqual(price('gpt-4.1'), [2, 8, 0.5, 2]);
    assert.deepEqual(price('gpt-4.1-mini'), [0.4, 1.6, 0.1, 0.4]);
    assert.deepEqual(price('gpt-4.1-nano')?.slice(0, 2), [0.1, 0.4]);
    assert.deepEqual(price('gpt-5'), [1.25, 10, 0.125, 1.25]);
    assert.deepEqual(price('gpt-5-mini'), [0.25, 2, 0.025, 0.25]);
    assert.deepEqual(price('gpt-5-nano')?.slice(0, 2), [0.05, 0.4]);
    assert.deepEqual(price('o4-mini'), [1.1, 4.4, 0.275, 1.1]);
  });

  test('the default model has a price, and every built-in entry is a valid price', () => {
    assert.deepEqual(price(DEFAULT_MODEL), [3, 15, 0.3, 3.75]);
    for (const [model, p] of Object.entries(BUILTIN_PRICES)) {
      for (const value of [p.input, p.output, p.cacheRead, p.cacheWrite]) assert.ok(Number.isFinite(value) && value >= 0, model);
      assert.ok(p.cacheRead <= p.input, `${model}: a cache read is never dearer than input`);
    }
  });
});

describe('matching a model name', () => {
  test('dated snapshots and tags match their base by the longest prefix', () => {
    assert.deepEqual(price('claude-haiku-4-5-20251001'), price('claude-haiku-4-5'));
    assert.deepEqual(price('claude-sonnet-4-5-20250929'), price('claude-sonnet-4-5'));
    assert.deepEqual(price('claude-opus-4-1-20250805'), price('claude-opus-4-1'));
    assert.deepEqual(price('gpt-4o-2024-08-06'), price('gpt-4o'));
    // a longer key wins over a shorter one that also matches
    assert.deepEqual(price('gpt-4o-mini-2024-07-18'), price('gpt-4o-mini'));
    assert.deepEqual(price('gpt-4.1-nano-2025-04-14'), price('gpt-4.1-nano'));
    assert.deepEqual(price('gpt-5-mini-2025-08-07'), price('gpt-5-mini'));
  });

  test('a prefix matches only up to a separator: claude-opus-4-10 is not claude-opus-4-1, gpt-5.1 is not gpt-5', () => {
    assert.deepEqual(price('claude-opus-4-10'), [5, 25, 0.5, 6.25]);
    assert.equal(price('gpt-5.1'), undefined);
    assert.equal(price('gpt-4'), undefined);
    assert.equal(price('gpt-4oops'), undefined);
  });

  test('a newer Claude of a known family is priced like the family\'s latest listed model', () => {
    assert.deepEqual(price('claude-opus-4-8'), price('claude-opus-4-5'));
    assert.deepEqual(price('claude-sonnet-5-5'), price('claude-sonnet-4-5'));
    assert.deepEqual(price('claude-haiku-5-5'), price('claude-haiku-4-5'));
  });

  test('OpenRouter names: the vendor prefix is dropped, Claude\'s dots become dashes', () => {
    assert.deepEqual(price('anthropic/claude-sonnet-4.5'), price('claude-sonnet-4-5'));
    assert.deepEqual(price('anthropic/claude-opus-4.1'), [15, 75, 1.5, 18.75]);
    assert.deepEqual(price('anthropic/claude-3.5-haiku'), price('claude-3-5-haiku'));
    assert.deepEqual(price('openai/gpt-4o'), price('gpt-4o'));
    assert.deepEqual(price('openai/gpt-4.1-mini'), price('gpt-4.1-mini'));
  });

  test('unknown models have no price, not a price of zero', () => {
    for (const model of ['qwen3:8b', 'llama3.1:70b', 'meta-llama/llama-3.3-70b-instruct', 'mistral-large', '', 'claude-2.1']) {
      assert.equal(priceOf(model, builtin), undefined, model);
      assert.equal(costOf({ model, inputTokens: 1000, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 1000 }, builtin), undefined, model);
    }
  });
});

describe('prices file (LARES_PRICES_FILE)', () => {
  test('adds models (zero is a price), overrides built-in entries, and matches its keys as prefixes', () => {
    const table = loadPrices(pricesFile({
      'qwen3:8b': { input: 0, output: 0 },
      'claude-sonnet-4-6': { input: 2, output: 10, cacheRead: 0.2, cacheWrite: 2.5 },
      'mistral-': { input: 0.5, output: 1.5, cacheRead: 0.05 },
      'meta-llama/llama-3.3-70b-instruct': { input: 0.13, output: 0.4 },
    }));
    assert.deepEqual(price('qwen3:8b', table), [0, 0, 0, 0]);
    assert.equal(costOf({ model: 'qwen3:8b', inputTokens: 123456, cacheReadTokens: 7, cacheWriteTokens: 8, outputTokens: 9999 }, table), 0);
    assert.deepEqual(price('claude-sonnet-4-6', table), [2, 10, 0.2, 2.5]);
    assert.deepEqual(price('claude-sonnet-4-6-20260101', table), [2, 10, 0.2, 2.5]);
    // cache writes cost what input costs when left out
    assert.deepEqual(price('mistral-large-2411', table), [0.5, 1.5, 0.05, 0.5]);
    assert.deepEqual(price('meta-llama/llama-3.3-70b-instruct', table), [0.13, 0.4, 0.13, 0.13]);
    // the rest of the built-in table stays
    assert.deepEqual(price('gpt-4o', table), price('gpt-4o'));
    // the file does not change the built-in table for others
    assert.deepEqual(price('claude-sonnet-4-6'), [3, 15, 0.3, 3.75]);
  });

  test('a bad file is a CONFIG_INVALID error that lists every bad entry', () => {
    const file = pricesFile({
      'good-model': { input: 1, output: 2 },
      'no-output': { input: 1 },
      negative: { input: -1, output: 2 },
      text: { input: '3', output: 15 },
      extra: { input: 1, output: 2, cached: 0.1 },
      'not-an-object': 5,
    });
    assert.throws(() => loadPrices(file), (error: any) => {
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /has 5 bad entries/);
      assert.match(error.message, /"no-output": output is missing/);
      assert.match(error.message, /"negative": input must be a number of at least 0/);
      assert.match(error.message, /"text": input must be a number of at least 0 \(USD per million tokens\), not "3"/);
      assert.match(error.message, /"extra": unknown field "cached"/);
      assert.match(error.message, /"not-an-object": expected an object/);
      assert.doesNotMatch(error.message, /good-model/);
      assert.match(error.message, /LARES_PRICES_FILE/);
      return true;
    });
  });

  test('a missing file, bad JSON or a non-object is a clear error', () => {
    assert.throws(() => loadPrices(join(dir, 'nope.json')), (e: any) => e.code === 'CONFIG_INVALID' && /does not exist/.test(e.message) && /LARES_PRICES_FILE/.test(e.message));
    assert.throws(() => loadPrices(pricesFile('{"a": {')), (e: any) => e.code === 'CONFIG_INVALID' && /cannot read the prices file/.test(e.message));
    assert.throws(() => loadPrices(pricesFile([1, 2])), (e: any) => e.code === 'CONFIG_INVALID' && /must hold a JSON object/.test(e.message));
  });
});

describe('costOf', () => {
  test('adds each kind of token at its price per million', () => {
    // Sonnet: 1,200 × $3 + 45,000 × $0.30 + 3,000 × $3.75 + 800 × $15 = $0.04035
    const usd = costOf({ model: 'claude-sonnet-4-6', inputTokens: 1200, cacheReadTokens: 45000, cacheWriteTokens: 3000, outputTokens: 800 }, builtin);
    assert.ok(Math.abs(usd! - 0.04035) < 1e-12, String(usd));
    // gpt-4o-mini: 1M input, 1M cached, 1M output = 0.15 + 0.075 + 0.6
    const mini = costOf({ model: 'gpt-4o-mini', inputTokens: 1e6, cacheReadTokens: 1e6, cacheWriteTokens: 0, outputTokens: 1e6 }, builtin);
    assert.ok(Math.abs(mini! - 0.825) < 1e-12, String(mini));
    assert.equal(costOf({ model: 'claude-opus-4-1', inputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 0 }, builtin), 0);
  });
});
