// The Ollama, OpenAI and Voyage embedders against their fakes (test/fakes/embeddings.ts), through
// the real `ollama` and `openai` clients: order, unit length, batching, query/document handling,
// retries, and an EMBEDDING_ERROR naming the service and the fix for every failure.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { LaresError } from '../../src/errors.ts';
import type { Embedder } from '../../src/embeddings/embedder.ts';
import { OllamaEmbedder, ollamaTaskPrefix } from '../../src/embeddings/ollama.ts';
import { OpenAiEmbedder } from '../../src/embeddings/openai.ts';
import { VoyageEmbedder } from '../../src/embeddings/voyage.ts';
import { fakeEmbedding, startFakeOllama, startFakeOpenAiEmbeddings, startFakeVoyage } from '../fakes/embeddings.ts';
import type { FakeOllama, FakeOpenAi, FakeVoyage } from '../fakes/embeddings.ts';
import { freePort } from '../support/free-port.ts';

const TEXTS = [
  'The cat sat on the mat.',
  'A cat was sitting on a mat.',
  'Quarterly revenue grew by twelve percent.',
  'Ünïcödé and emoji 🎉 are fine too',
];

async function rejection(promise: Promise<unknown>): Promise<LaresError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof LaresError, `expected a LaresError, got ${String(error)}`);
    assert.equal(error.code, 'EMBEDDING_ERROR');
    return error;
  }
  assert.fail('expected the call to be rejected');
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function assertUnit(vectors: Float32Array[], dimensions: number): void {
  for (const vector of vectors) {
    assert.equal(vector.length, dimensions);
    assert.ok(Math.abs(dot(vector, vector) - 1) < 1e-5, 'unit length');
  }
}

/** The same vector, up to float32 rounding. */
function assertSameVector(actual: Float32Array, expected: number[]): void {
  assert.equal(actual.length, expected.length);
  assert.ok(dot(actual, Float32Array.from(expected)) > 0.9999);
}

/** Similar texts stay similar and different ones do not, through any embedder. */
async function assertSemanticOrder(embedder: Embedder): Promise<void> {
  const [cat1, cat2, revenue] = await embedder.embed(TEXTS.slice(0, 3), 'document');
  assert.ok(dot(cat1, cat2) > dot(cat1, revenue));
}

describe('OllamaEmbedder', () => {
  let fake: FakeOllama;
  before(async () => { fake = await startFakeOllama(); });
  after(() => fake.close());

  test('returns one unit vector per text, in order, with the nomic document prefix', async () => {
    fake.requests.length = 0;
    const embedder = new OllamaEmbedder({ baseUrl: fake.url });
    assert.equal(embedder.model, 'ollama:nomic-embed-text');
    const vectors = await embedder.embed(TEXTS, 'document');
    assert.equal(vectors.length, TEXTS.length);
    assertUnit(vectors, 768);
    TEXTS.forEach((text, i) => assertSameVector(vectors[i], fakeEmbedding(`search_document: ${text}`, 'nomic-embed-text:latest', 768)));
    assert.equal(fake.requests.length, 1);
    const body = fake.requests[0].body;
    assert.equal(fake.requests[0].path, '/api/embed');
    assert.equal(body.model, 'nomic-embed-text');
    assert.equal(body.truncate, true);
    assert.deepEqual(body.input, TEXTS.map((t) => `search_document: ${t}`));
    await assertSemanticOrder(embedder);
  });

  test('queries get search_query:, other models no prefix', async () => {
    fake.requests.length = 0;
    await new OllamaEmbedder({ baseUrl: fake.url }).embed(['where is the cat?'], 'query');
    assert.deepEqual(fake.requests[0].body.input, ['search_query: where is the cat?']);
    const mxbai = new OllamaEmbedder({ baseUrl: fake.url, model: 'mxbai-embed-large' });
    const [vector] = await mxbai.embed(['where is the cat?'], 'query');
    assert.deepEqual(fake.requests[1].body.input, ['where is the cat?']);
    assert.equal(vector.length, 1024);
    assert.equal(ollamaTaskPrefix('nomic-embed-text:v1.5', 'document'), 'search_document: ');
    assert.equal(ollamaTaskPrefix('library/nomic-embed-text-v2-moe', 'query'), 'search_query: ');
    assert.equal(ollamaTaskPrefix('all-minilm', 'query'), '');
  });

  test('splits big inputs into batches of batchSize, keeping the order', async () => {
    fake.requests.length = 0;
    const texts = Array.from({ length: 25 }, (_, i) => `note number ${i}`);
    const vectors = await new OllamaEmbedder({ baseUrl: fake.url, batchSize: 10 }).embed(texts, 'document');
    assert.deepEqual(fake.requests.map((r) => r.body.input.length), [10, 10, 5]);
    texts.forEach((text, i) => assertSameVector(vectors[i], fakeEmbedding(`search_document: ${text}`, 'nomic-embed-text:latest', 768)));
  });

  test('an empty list sends nothing', async () => {
    fake.requests.length = 0;
    assert.deepEqual(await new OllamaEmbedder({ baseUrl: fake.url }).embed([], 'query'), []);
    assert.equal(fake.requests.length, 0);
  });

  test('a model that is not pulled says which `ollama pull` to run', async () => {
    const error = await rejection(new OllamaEmbedder({ baseUrl: fake.url, model: 'bge-m3' }).embed(['x'], 'query'));
    assert.equal(error.message, 'Ollama has no model bge-m3: run `ollama pull bge-m3`');
  });

  test('a server error names Ollama, its address and the status', async () => {
    fake.failNext(500, { error: 'llama runner process has terminated: signal: killed' });
    const error = await rejection(new OllamaEmbedder({ baseUrl: fake.url }).embed(['x'], 'query'));
    assert.match(error.message, new RegExp(`Ollama at ${fake.url} .*\\(500\\): llama runner process has terminated`));
    assert.match(error.message, /server log/);
  });

  test('a vector count that differs from the inputs is an error', async () => {
    fake.failNext(200, { model: 'nomic-embed-text', embeddings: [[1, 0, 0]] });
    const error = await rejection(new OllamaEmbedder({ baseUrl: fake.url }).embed(['a', 'b'], 'document'));
    assert.match(error.message, /returned 1 vectors for 2 texts/);
  });

  test('an unreachable server gives "cannot reach" with the fix', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const error = await rejection(new OllamaEmbedder({ baseUrl: url }).embed(['x'], 'query'));
    assert.equal(error.message, `cannot reach Ollama at ${url} (connect ECONNREFUSED): is \`ollama serve\` running? Set OLLAMA_BASE_URL to its address`);
  });

  test('a server that never answers times out with a clear message', async () => {
    const silent = http.createServer(() => { /* never answers */ });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const error = await rejection(new OllamaEmbedder({ baseUrl: url, timeoutMs: 100 }).embed(['x'], 'query'));
      assert.match(error.message, new RegExp(`Ollama at ${url} did not answer in time`));
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test('the fake is strict like Ollama (real ollama client)', async () => {
    const client = new Ollama({ host: fake.url });
    const single = await client.embed({ model: 'nomic-embed-text:latest', input: 'one string' });
    assert.equal(single.embeddings.length, 1);
    assert.equal(single.model, 'nomic-embed-text:latest');
    assert.ok(single.prompt_eval_count > 0 && single.total_duration > 0);
    assert.deepEqual((await client.embed({ model: 'nomic-embed-text', input: [] })).embeddings, []);
    assert.equal((await client.embed({ model: 'nomic-embed-text', input: 'x', dimensions: 64 })).embeddings[0].length, 64);
    await assert.rejects(client.embed({ model: 'nope', input: 'x' }), { status_code: 404, message: 'model "nope" not found, try pulling it first' });
    await assert.rejects(client.embed({ model: '', input: 'x' }), { status_code: 400, message: 'model is required' });
    await assert.rejects(client.embed({ model: 'nomic-embed-text', input: [1, 2] as unknown as string[] }), { status_code: 400, message: 'invalid input type' });
    const small = await startFakeOllama({ contextLength: 5 });
    try {
      const long = 'one two three four five six seven eight nine ten';
      await assert.rejects(new Ollama({ host: small.url }).embed({ model: 'nomic-embed-text', input: long, truncate: false }), { status_code: 400, message: 'the input length exceeds the context length' });
      const truncated = await new Ollama({ host: small.url }).embed({ model: 'nomic-embed-text', input: long });
      assert.equal(truncated.prompt_eval_count, 5);
    } finally {
      await small.close();
    }
  });
});

describe('OpenAiEmbedder', () => {
  let fake: FakeOpenAi;
  before(async () => { fake = await startFakeOpenAiEmbeddings(); });
  after(() => fake.close());
  const make = (options: Partial<ConstructorParameters<typeof OpenAiEmbedder>[0]> = {}): OpenAiEmbedder =>
    new OpenAiEmbedder({ apiKey: fake.apiKey!, baseUrl: fake.url, ...options });

  test('returns one unit vector per text, in order, as floats', async () => {
    fake.requests.length = 0;
    const embedder = make();
    assert.equal(embedder.model, 'openai:text-embedding-3-small');
    const vectors = await embedder.embed(TEXTS, 'query');
    assertUnit(vectors, 1536);
    TEXTS.forEach((text, i) => assertSameVector(vectors[i], fakeEmbedding(text, 'text-embedding-3-small', 1536)));
    const { body, headers, path } = fake.requests[0];
    assert.equal(path, '/v1/embeddings');
    assert.equal(headers.authorization, `Bearer ${fake.apiKey}`);
    assert.deepEqual(body, { model: 'text-embedding-3-small', input: TEXTS, encoding_format: 'float' });
    await assertSemanticOrder(embedder);
  });

  test('dimensions are sent and named in the model id', async () => {
    fake.requests.length = 0;
    const embedder = make({ dimensions: 256 });
    assert.equal(embedder.model, 'openai:text-embedding-3-small@256');
    const [vector] = await embedder.embed(['short'], 'document');
    assert.equal(fake.requests[0].body.dimensions, 256);
    assertUnit([vector], 256);
  });

  test('splits big inputs into batches and restores order from data[].index', async () => {
    fake.requests.length = 0;
    const texts = Array.from({ length: 7 }, (_, i) => `memory ${i}`);
    const vectors = await make({ batchSize: 3 }).embed(texts, 'document');
    assert.deepEqual(fake.requests.map((r) => r.body.input.length), [3, 3, 1]);
    texts.forEach((text, i) => assertSameVector(vectors[i], fakeEmbedding(text, 'text-embedding-3-small', 1536)));

    const shuffled = [1, 0].map((index) => ({ object: 'embedding', index, embedding: fakeEmbedding(`t${index}`, 'm', 8) }));
    fake.failNext(200, { object: 'list', data: shuffled, model: 'text-embedding-3-small', usage: { prompt_tokens: 2, total_tokens: 2 } });
    const [first, second] = await make().embed(['t0', 't1'], 'document');
    assertSameVector(first, fakeEmbedding('t0', 'm', 8));
    assertSameVector(second, fakeEmbedding('t1', 'm', 8));
  });

  test('vectors from servers that do not normalise are normalised', async () => {
    const loose = await startFakeOpenAiEmbeddings({ apiKey: null, normalized: false, models: { 'nomic-embed-text': 768 } });
    try {
      const embedder = new OpenAiEmbedder({ baseUrl: loose.url, model: 'nomic-embed-text' });
      assertUnit(await embedder.embed(['hello'], 'query'), 768);
      assert.equal(loose.requests[0].headers.authorization, 'Bearer no-key');
    } finally {
      await loose.close();
    }
  });

  test('a wrong key: 401 names the server and OPENAI_API_KEY, never the key', async () => {
    const key = 'sk-wrong-secret-key-1234567890';
    const error = await rejection(make({ apiKey: key }).embed(['x'], 'query'));
    assert.equal(error.message, `the OpenAI-compatible server at ${fake.url} refused the API key (401): check OPENAI_API_KEY`);
    assert.ok(!error.message.includes(key) && !error.message.includes('7890'));
  });

  test('an unknown model: 404 says so', async () => {
    const error = await rejection(make({ model: 'text-embedding-4-huge' }).embed(['x'], 'query'));
    assert.match(error.message, /has no model text-embedding-4-huge \(404\): The model `text-embedding-4-huge` does not exist/);
  });

  test('a base URL without /v1: 404 points at OPENAI_BASE_URL, not the model', async () => {
    const error = await rejection(make({ baseUrl: fake.url.replace(/\/v1$/, '') }).embed(['x'], 'query'));
    assert.match(error.message, /has no embeddings endpoint \(404\): Invalid URL \(POST \/embeddings\): check OPENAI_BASE_URL \(it usually ends in \/v1\)$/);
  });

  test('a bad request is reported with the server message', async () => {
    const error = await rejection(make({ model: 'text-embedding-ada-002', dimensions: 256 }).embed(['x'], 'query'));
    assert.match(error.message, /rejected the request \(400\): This model does not support specifying dimensions\./);
    const empty = await rejection(make().embed([''], 'query'));
    assert.match(empty.message, /'\$\.input' is invalid/);
  });

  test('429 then success is retried by the SDK', async () => {
    fake.requests.length = 0;
    fake.failNext(429, undefined, { 'retry-after': '0' });
    const vectors = await make().embed(['retry me'], 'query');
    assert.equal(vectors.length, 1);
    assert.deepEqual(fake.requests.map((r) => r.status), [429, 200]);
  });

  test('429 on every try gives up after 3 tries with a clear message', async () => {
    fake.requests.length = 0;
    for (let i = 0; i < 3; i++) fake.failNext(429, undefined, { 'retry-after': '0' });
    const error = await rejection(make().embed(['x'], 'query'));
    assert.equal(fake.requests.length, 3);
    assert.match(error.message, /rate-limiting us \(429, after 3 tries\): Rate limit reached/);
  });

  test('a vector count that differs from the inputs is an error', async () => {
    fake.failNext(200, { object: 'list', data: [], model: 'text-embedding-3-small', usage: { prompt_tokens: 0, total_tokens: 0 } });
    const error = await rejection(make().embed(['a'], 'query'));
    assert.match(error.message, /returned 0 vectors for 1 texts/);
  });

  test('an unreachable server gives "cannot reach" with the fix', async () => {
    const url = `http://127.0.0.1:${await freePort()}/v1`;
    const error = await rejection(new OpenAiEmbedder({ baseUrl: url }).embed(['x'], 'query'));
    assert.equal(error.message, `cannot reach the OpenAI-compatible server at ${url} (connect ECONNREFUSED): check OPENAI_BASE_URL and that the server is running`);
  });

  test('api.openai.com without a key fails at construction', () => {
    assert.throws(() => new OpenAiEmbedder({}), { code: 'MISSING_API_KEY' });
    assert.throws(() => new OpenAiEmbedder({ apiKey: 'k', batchSize: 5000 }), { code: 'CONFIG_INVALID' });
  });

  test('the fake is strict like OpenAI (real openai SDK, base64 by default)', async () => {
    const client = new OpenAI({ apiKey: fake.apiKey!, baseURL: fake.url, maxRetries: 0 });
    // No encoding_format: the SDK asks for base64 and decodes it.
    fake.requests.length = 0;
    const decoded = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha beta', 'gamma'] });
    assert.equal(fake.requests[0].body.encoding_format, 'base64');
    assertSameVector(Float32Array.from(decoded.data[1].embedding), fakeEmbedding('gamma', 'text-embedding-3-small', 1536));
    assert.ok(decoded.usage.prompt_tokens > 0 && decoded.usage.total_tokens === decoded.usage.prompt_tokens);
    const large = await client.embeddings.create({ model: 'text-embedding-3-large', input: 'x', dimensions: 1024, encoding_format: 'float' });
    assert.equal(large.data[0].embedding.length, 1024);

    const noKey = new OpenAI({ apiKey: 'x', baseURL: fake.url, maxRetries: 0, defaultHeaders: { Authorization: null } });
    await assert.rejects(noKey.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }), { status: 401, code: null, message: /You didn't provide an API key/ });
    const wrong = new OpenAI({ apiKey: 'sk-abcdefghijklmnop', baseURL: fake.url, maxRetries: 0 });
    await assert.rejects(wrong.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }), { status: 401, code: 'invalid_api_key', message: /Incorrect API key provided: sk-\*+mnop\./ });
    await assert.rejects(client.embeddings.create({ model: 'text-embedding-3-small', input: [] }), { status: 400, message: /'\$\.input' is invalid/ });
    await assert.rejects(client.embeddings.create({ model: 'text-embedding-3-small', input: '' }), { status: 400 });
    const tooMany = Array.from({ length: 2049 }, () => 'x');
    await assert.rejects(client.embeddings.create({ model: 'text-embedding-3-small', input: tooMany }), { status: 400, message: /2048 or less/ });
    await assert.rejects(client.embeddings.create({ model: 'nope', input: 'x' }), { status: 404, code: 'model_not_found' });
    await assert.rejects(client.embeddings.create({ model: 'text-embedding-3-small', input: 'x', dimensions: 4000 }), { status: 400, param: 'dimensions' });
    await assert.rejects(client.embeddings.create({ model: 'text-embedding-3-small', input: 'word '.repeat(9000) }), { status: 400, message: /maximum input length is 8192 tokens/ });
  });
});

describe('VoyageEmbedder', () => {
  let fake: FakeVoyage;
  before(async () => { fake = await startFakeVoyage(); });
  after(() => fake.close());
  const make = (options: Partial<ConstructorParameters<typeof VoyageEmbedder>[0]> = {}): VoyageEmbedder =>
    new VoyageEmbedder({ apiKey: fake.apiKey, baseUrl: fake.url, ...options });

  test('returns one unit vector per text, in order, with input_type', async () => {
    fake.requests.length = 0;
    const embedder = make();
    assert.equal(embedder.model, 'voyage:voyage-3.5-lite');
    const vectors = await embedder.embed(TEXTS, 'document');
    assertUnit(vectors, 1024);
    const prompt = 'Represent the document for retrieval: ';
    TEXTS.forEach((text, i) => assertSameVector(vectors[i], fakeEmbedding(prompt + text, 'voyage-3.5-lite', 1024)));
    const { body, headers, path } = fake.requests[0];
    assert.equal(path, '/v1/embeddings');
    assert.equal(headers.authorization, `Bearer ${fake.apiKey}`);
    assert.match(headers['content-type'], /^application\/json/);
    assert.deepEqual(body, { input: TEXTS, model: 'voyage-3.5-lite', input_type: 'document', truncation: true });
    await make().embed(['where is the cat?'], 'query');
    assert.equal(fake.requests.at(-1)!.body.input_type, 'query');
    await assertSemanticOrder(embedder);
  });

  test('splits big inputs into batches of batchSize', async () => {
    fake.requests.length = 0;
    const texts = Array.from({ length: 5 }, (_, i) => `fact ${i}`);
    const vectors = await make({ batchSize: 2 }).embed(texts, 'document');
    assert.deepEqual(fake.requests.map((r) => r.body.input.length), [2, 2, 1]);
    assert.equal(vectors.length, 5);
    assert.throws(() => make({ batchSize: 1001 }), { code: 'CONFIG_INVALID' });
  });

  test('429 then success is retried, honouring retry-after', async () => {
    fake.requests.length = 0;
    fake.failNext(429, undefined, { 'retry-after': '0' });
    fake.failNext(503, undefined, { 'retry-after': '0' });
    const vectors = await make().embed(['retry me'], 'query');
    assert.equal(vectors.length, 1);
    assert.deepEqual(fake.requests.map((r) => r.status), [429, 503, 200]);
  });

  test('429 on every try gives up after 3 tries with the detail and a fix', async () => {
    fake.requests.length = 0;
    for (let i = 0; i < 3; i++) fake.failNext(429, undefined, { 'retry-after': '0' });
    const error = await rejection(make().embed(['x'], 'query'));
    assert.equal(fake.requests.length, 3);
    assert.equal(error.message, `Voyage AI at ${fake.url} is rate-limiting us (429, after 3 tries): You have exceeded your rate limit. Please pace your requests or request a higher limit.: wait, or lower the batch size`);
  });

  test('a 400 is not retried and carries the detail', async () => {
    fake.requests.length = 0;
    const tight = await startFakeVoyage({ maxBatchTokens: 10 });
    try {
      const error = await rejection(new VoyageEmbedder({ apiKey: tight.apiKey, baseUrl: tight.url }).embed(['a fairly long text that has more than ten tokens in it, surely'], 'document'));
      assert.equal(tight.requests.length, 1);
      assert.match(error.message, /rejected the request \(400\): Request to model 'voyage-3\.5-lite' failed\. The max allowed tokens per submitted batch is 10\..*: lower the embedding batch size$/);
    } finally {
      await tight.close();
    }
  });

  test('a wrong key: 401 names Voyage and VOYAGE_API_KEY, never the key', async () => {
    const key = 'pa-very-secret-voyage-key';
    const error = await rejection(make({ apiKey: key }).embed(['x'], 'query'));
    assert.equal(error.message, `Voyage AI at ${fake.url} refused the API key (401): check VOYAGE_API_KEY`);
    assert.ok(!error.message.includes(key));
    assert.throws(() => new VoyageEmbedder({ apiKey: '' }), { code: 'MISSING_API_KEY' });
  });

  test('an unknown model is reported with the detail', async () => {
    const error = await rejection(make({ model: 'voyage-99' }).embed(['x'], 'query'));
    assert.match(error.message, /rejected the request \(400\): Model voyage-99 is not supported/);
  });

  test('a vector count that differs from the inputs is an error', async () => {
    fake.failNext(200, { object: 'list', data: [{ object: 'embedding', embedding: [1, 0], index: 0 }], model: 'voyage-3.5-lite', usage: { total_tokens: 1 } });
    const error = await rejection(make().embed(['a', 'b'], 'document'));
    assert.match(error.message, /returned 1 vectors for 2 texts/);
  });

  test('an unreachable server gives "cannot reach"', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const error = await rejection(new VoyageEmbedder({ apiKey: 'k', baseUrl: url }).embed(['x'], 'query'));
    assert.equal(error.message, `cannot reach Voyage AI at ${url} (connect ECONNREFUSED): check the network and the Voyage base URL`);
  });

  test('the fake is strict like Voyage', async () => {
    const post = (body: unknown, key = fake.apiKey): Promise<Response> => fetch(`${fake.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const ok = await post({ input: 'one', model: 'voyage-3.5-lite' });
    const json: any = await ok.json();
    assert.equal(json.object, 'list');
    assert.equal(json.data[0].object, 'embedding');
    assert.ok(json.usage.total_tokens > 0);
    const shortened: any = await (await post({ input: 'one', model: 'voyage-3.5', output_dimension: 256 })).json();
    assert.equal(shortened.data[0].embedding.length, 256);
    const bad = async (body: unknown, status: number, detail: RegExp, key?: string): Promise<void> => {
      const response = await post(body, key);
      assert.equal(response.status, status);
      assert.match(((await response.json()) as { detail: string }).detail, detail);
    };
    await bad({ input: 'x', model: 'voyage-3.5-lite' }, 401, /^Provided API key is invalid\.$/, 'wrong');
    await bad({ input: Array.from({ length: 1001 }, () => 'x'), model: 'voyage-3.5-lite' }, 400, /batch size limit is 1000/);
    await bad({ input: ['x'], model: 'voyage-3.5-lite', input_type: 'passage' }, 400, /input_type/);
    await bad({ input: [], model: 'voyage-3.5-lite' }, 400, /non-empty list/);
  });
});
