// Strict fakes of three embedding APIs, served over real HTTP on 127.0.0.1 and driven by the real
// clients: Ollama's POST /api/embed (the `ollama` package), OpenAI's POST /v1/embeddings (the
// `openai` SDK) and Voyage AI's POST /v1/embeddings (plain fetch). Each validates requests the way
// its service does (same statuses, error shapes and messages) and answers deterministic vectors:
// a hashed bag of words, so texts sharing words get similar vectors.

import http from 'node:http';
import type { ServerResponse } from 'node:http';
import { closeServer, flattenHeaders, HttpError, listenOnLoopback, readBody } from './http-plumbing.ts';
import { randomBytes } from 'node:crypto';
import { tokenize } from './anthropic.ts';

export interface RecordedEmbeddingRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** Parsed JSON body; undefined when there was none or it did not parse. */
  body: any;
  /** The status the fake answered. */
  status?: number;
}

export interface FakeEmbeddingServer {
  /** What the client is pointed at (see each starter). */
  url: string;
  /** Every request, in order, rejected ones too. */
  requests: RecordedEmbeddingRequest[];
  /**
   * The next request (whatever it is) gets this status instead of being served. `body`
   * defaults to the service's own error shape for that status; `headers`, e.g. `retry-after`.
   * Calls queue up: failNext(429); failNext(429) fails the next two.
   */
  failNext(status: number, body?: unknown, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Vectors

const WORD = /[\p{L}\p{N}]+/gu;

/** FNV-1a, 32 bits: a fast, stable hash for bucket and sign choices. */
function fnv1a(text: string, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * The fake's embedding of a text for a model: each lower-cased word adds ±1 to one of
 * `dimensions` buckets (chosen by hashing the word with the model name, so models disagree like
 * real ones), plus a small constant in bucket 0 so no text embeds to zero. Unit length.
 */
export function fakeEmbedding(text: string, model: string, dimensions: number): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  vector[0] = 0.1;
  for (const match of text.toLowerCase().matchAll(WORD)) {
    const key = `${model}\0${match[0]}`;
    const bucket = fnv1a(key, 1) % dimensions;
    vector[bucket] += fnv1a(key, 2) & 1 ? 1 : -1;
  }
  return unit(vector);
}

function unit(vector: number[]): number[] {
  const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0)) || 1;
  return vector.map((x) => x / norm);
}

/** Matryoshka shortening, as text-embedding-3 `dimensions` and Ollama/Voyage do it: keep the head, renormalise. */
function shorten(vector: number[], dimensions: number | undefined): number[] {
  return dimensions && dimensions < vector.length ? unit(vector.slice(0, dimensions)) : vector;
}

/** Keeps the first `limit` tokens of a text (whole words), as truncating services do. */
function truncateTokens(text: string, limit: number): string {
  if (tokenize(text) <= limit) return text;
  const words = text.split(/(?<=\s)/);
  let kept = '';
  for (const word of words) {
    if (tokenize(kept + word) > limit) break;
    kept += word;
  }
  return kept;
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing shared by the three fakes (with http-plumbing.ts)

interface Failure { status: number; body?: unknown; headers?: Record<string, string> }

type Handler = (record: RecordedEmbeddingRequest, raw: string) => unknown;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const type = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
  res.writeHead(status, { 'content-type': type, ...headers });
  res.end(text);
}

async function serve(
  handler: Handler,
  errorBody: (status: number) => unknown,
  extraHeaders: () => Record<string, string> = () => ({}),
): Promise<{ port: number; requests: RecordedEmbeddingRequest[]; failNext: FakeEmbeddingServer['failNext']; close(): Promise<void> }> {
  const requests: RecordedEmbeddingRequest[] = [];
  const failures: Failure[] = [];
  const server = http.createServer((req, res) => {
    const record: RecordedEmbeddingRequest = {
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0],
      headers: flattenHeaders(req),
      body: undefined,
    };
    requests.push(record);
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      record.status = status;
      send(res, status, body, { ...extraHeaders(), ...headers });
    };
    readBody(req).then((bytes) => {
      const raw = bytes.toString('utf8');
      try {
        record.body = raw ? JSON.parse(raw) : undefined;
      } catch {
        // left undefined; the handler reports the parse error the service's way
      }
      const failure = failures.shift();
      if (failure) {
        answer(failure.status, failure.body ?? errorBody(failure.status), failure.headers);
        return;
      }
      answer(200, handler(record, raw));
    }).catch((error: unknown) => {
      if (error instanceof HttpError) answer(error.status, error.body, error.headers);
      else answer(500, errorBody(500), { 'x-fake-error': String((error as Error)?.message ?? error) });
    });
  });
  const port = await listenOnLoopback(server);
  return {
    port,
    requests,
    failNext(status, body, headers) {
      failures.push({ status, body, headers });
    },
    close: () => closeServer(server),
  };
}

function bearer(headers: Record<string, string>): string | undefined {
  return /^Bearer (.+)$/i.exec(headers.authorization ?? '')?.[1];
}

// ---------------------------------------------------------------------------------------------
// Ollama: POST /api/embed

export interface FakeOllamaOptions {
  /** Pulled models and their dimensions. Default nomic-embed-text 768, mxbai-embed-large 1024, all-minilm 384. A name without a tag means `:latest`. */
  models?: Record<string, number>;
  /** Tokens per input before truncation (or, with truncate: false, a 400). Default 8192. */
  contextLength?: number;
}

export interface FakeOllama extends FakeEmbeddingServer {
  /** http://127.0.0.1:PORT: pass as the Ollama host / OLLAMA_BASE_URL. */
  url: string;
}

/** Ollama's name matching: case-insensitive, and a missing tag means `latest`. */
function ollamaName(name: string): string {
  const lower = name.toLowerCase();
  return /:[^/]+$/.test(lower) ? lower : `${lower}:latest`;
}

/**
 * A fake Ollama server. Like the real one (server/routes.go EmbedHandler): `input` may be a
 * string or an array of strings (anything else: 400 "invalid input type"); an empty or missing
 * input just loads the model and answers `embeddings: []`; a model that is not pulled gets 404
 * `model "x" not found, try pulling it first`; a missing model 400 "model is required"; inputs
 * longer than the context are truncated unless `truncate: false` (then 400). Vectors come back
 * normalised; `dimensions` shortens them.
 */
export async function startFakeOllama(options: FakeOllamaOptions = {}): Promise<FakeOllama> {
  const models = new Map(Object.entries(options.models ?? { 'nomic-embed-text': 768, 'mxbai-embed-large': 1024, 'all-minilm': 384 })
    .map(([name, dims]) => [ollamaName(name), dims]));
  const contextLength = options.contextLength ?? 8192;
  const error = (status: number, message: string): HttpError => new HttpError(status, { error: message });

  const handler: Handler = (record, raw) => {
    if (record.method === 'GET' && (record.path === '/' || record.path === '')) return 'Ollama is running';
    if (record.method === 'GET' && record.path === '/api/tags') {
      return { models: [...models.keys()].map((name) => ({ name, model: name })) };
    }
    if (record.method !== 'POST' || record.path !== '/api/embed') throw new HttpError(404, '404 page not found');
    if (!raw) throw error(400, 'missing request body');
    const body = record.body;
    if (body === undefined) throw error(400, `invalid character '${raw.trim()[0] ?? ''}' looking for beginning of value`);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw error(400, 'json: cannot unmarshal into Go value of type api.EmbedRequest');
    for (const [field, type] of [['model', 'string'], ['truncate', 'boolean'], ['dimensions', 'number']] as const) {
      if (body[field] !== undefined && body[field] !== null && typeof body[field] !== type) {
        throw error(400, `json: cannot unmarshal ${typeof body[field]} into Go struct field EmbedRequest.${field} of type ${type === 'number' ? 'int' : type === 'boolean' ? 'bool' : type}`);
      }
    }
    let input: string[];
    if (typeof body.input === 'string') input = body.input.length > 0 ? [body.input] : [];
    else if (Array.isArray(body.input)) {
      if (!body.input.every((item: unknown) => typeof item === 'string')) throw error(400, 'invalid input type');
      input = body.input;
    } else if (body.input === undefined || body.input === null) input = [];
    else throw error(400, 'invalid input type');
    if (!body.model) throw error(400, 'model is required');
    const dimensions = models.get(ollamaName(body.model));
    if (dimensions === undefined) throw error(404, `model "${body.model}" not found, try pulling it first`);

    const started = process.hrtime.bigint();
    let promptEvalCount = 0;
    const embeddings = input.map((text) => {
      const tokens = tokenize(text);
      if (tokens > contextLength && body.truncate === false) throw error(400, 'the input length exceeds the context length');
      const kept = tokens > contextLength ? truncateTokens(text, contextLength) : text;
      promptEvalCount += Math.min(tokens, contextLength);
      return shorten(fakeEmbedding(kept, ollamaName(body.model), dimensions), body.dimensions > 0 ? body.dimensions : undefined);
    });
    const elapsed = Number(process.hrtime.bigint() - started);
    if (input.length === 0) return { model: body.model, embeddings: [] };
    return { model: body.model, embeddings, total_duration: elapsed + 1000, load_duration: 1000, prompt_eval_count: promptEvalCount };
  };

  const served = await serve(handler, (status) => ({ error: status === 429 ? 'server busy, please try again.  maximum pending requests exceeded' : `fake Ollama error ${status}` }));
  return { url: `http://127.0.0.1:${served.port}`, requests: served.requests, failNext: served.failNext, close: served.close };
}

// ---------------------------------------------------------------------------------------------
// OpenAI: POST /v1/embeddings

export interface FakeOpenAiOptions {
  /** Default 'sk-test-key'. null: no key required (a local OpenAI-compatible server). */
  apiKey?: string | null;
  /** Models and their native dimensions. Default text-embedding-3-small 1536, text-embedding-3-large 3072, text-embedding-ada-002 1536. */
  models?: Record<string, number>;
  /** Default true. false: vectors are not unit length, like some OpenAI-compatible servers. */
  normalized?: boolean;
}

export interface FakeOpenAi extends FakeEmbeddingServer {
  /** http://127.0.0.1:PORT/v1: pass as the SDK's baseURL / OPENAI_BASE_URL. */
  url: string;
  apiKey: string | null;
}

const OPENAI_MAX_INPUTS = 2048;
const OPENAI_MAX_INPUT_TOKENS = 8192;
const OPENAI_MAX_REQUEST_TOKENS = 300_000;

function openAiError(status: number, message: string, code: string | null = null, type = 'invalid_request_error', param: string | null = null): HttpError {
  return new HttpError(status, { error: { message, type, param, code } });
}

const INVALID_INPUT = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.";

/** How OpenAI shows a wrong key in its 401: the first 3 and last 4 characters. */
function maskKey(key: string): string {
  return key.length <= 8 ? '*'.repeat(key.length) : `${key.slice(0, 3)}${'*'.repeat(Math.min(key.length - 7, 40))}${key.slice(-4)}`;
}

function openAiInputs(input: unknown): Array<string | number[]> {
  if (typeof input === 'string') {
    if (input.length === 0) throw openAiError(400, INVALID_INPUT);
    return [input];
  }
  if (!Array.isArray(input) || input.length === 0) throw openAiError(400, INVALID_INPUT);
  if (input.every((item) => typeof item === 'number')) return [input as number[]];
  if (input.length > OPENAI_MAX_INPUTS) throw openAiError(400, `${INVALID_INPUT} (array length must be ${OPENAI_MAX_INPUTS} or less)`);
  for (const item of input) {
    const ok = (typeof item === 'string' && item.length > 0)
      || (Array.isArray(item) && item.length > 0 && item.every((t) => Number.isInteger(t) && t >= 0));
    if (!ok) throw openAiError(400, INVALID_INPUT);
  }
  return input;
}

/**
 * A fake of OpenAI's embeddings endpoint (also what Ollama, vLLM and LM Studio serve under /v1).
 * Like the real API: `Authorization: Bearer` or 401 (`invalid_api_key`, the key shown masked),
 * `model` required, unknown model 404 `model_not_found`, input a non-empty string, a token array,
 * or 1..2048 non-empty strings/token arrays (else 400 "'$.input' is invalid"), 8192 tokens per
 * input and 300k per request, `dimensions` only for text-embedding-3-*, `encoding_format`
 * float (default) or base64 (little-endian float32, what the SDK asks for by default).
 */
export async function startFakeOpenAiEmbeddings(options: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
  const apiKey = options.apiKey === undefined ? 'sk-test-key' : options.apiKey;
  const models = new Map(Object.entries(options.models ?? { 'text-embedding-3-small': 1536, 'text-embedding-3-large': 3072, 'text-embedding-ada-002': 1536 }));
  const normalized = options.normalized ?? true;

  const handler: Handler = (record) => {
    if (record.method !== 'POST' || record.path !== '/v1/embeddings') {
      throw openAiError(404, `Invalid URL (${record.method} ${record.path})`);
    }
    if (apiKey !== null) {
      const presented = bearer(record.headers);
      if (!presented) {
        throw openAiError(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.");
      }
      if (presented !== apiKey) {
        throw openAiError(401, `Incorrect API key provided: ${maskKey(presented)}. You can find your API key at https://platform.openai.com/account/api-keys.`, 'invalid_api_key');
      }
    }
    const body = record.body;
    if (body === undefined || typeof body !== 'object' || body === null) {
      throw openAiError(400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)");
    }
    if (!body.model) throw openAiError(400, 'you must provide a model parameter');
    if (body.input === undefined) throw openAiError(400, "'input' is a required property");
    const inputs = openAiInputs(body.input);
    const native = models.get(body.model);
    if (native === undefined) throw openAiError(404, `The model \`${body.model}\` does not exist or you do not have access to it.`, 'model_not_found');
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') throw openAiError(400, `'${format}' is not one of ['float', 'base64'] - 'encoding_format'`);
    if (body.dimensions !== undefined && body.dimensions !== null) {
      if (!String(body.model).startsWith('text-embedding-3')) throw openAiError(400, 'This model does not support specifying dimensions.');
      if (!Number.isInteger(body.dimensions) || body.dimensions < 1) throw openAiError(400, `Invalid value for 'dimensions' = ${body.dimensions}. Must be greater than or equal to 1.`, null, 'invalid_request_error', 'dimensions');
      if (body.dimensions > native) throw openAiError(400, `Invalid value for 'dimensions' = ${body.dimensions}. Must be less than or equal to ${native}.`, null, 'invalid_request_error', 'dimensions');
    }

    let promptTokens = 0;
    const data = inputs.map((input, index) => {
      const text = typeof input === 'string' ? input : input.map((t) => `t${t}`).join(' ');
      const tokens = typeof input === 'string' ? tokenize(input) : input.length;
      if (tokens > OPENAI_MAX_INPUT_TOKENS) throw openAiError(400, `Invalid 'input[${index}]': maximum input length is ${OPENAI_MAX_INPUT_TOKENS} tokens.`, null, 'invalid_request_error', `input[${index}]`);
      promptTokens += tokens;
      let vector = shorten(fakeEmbedding(text, body.model, native), body.dimensions ?? undefined);
      if (!normalized) vector = vector.map((x) => x * 3.5);
      const embedding = format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    });
    if (promptTokens > OPENAI_MAX_REQUEST_TOKENS) throw openAiError(400, `Requested ${promptTokens} tokens, max ${OPENAI_MAX_REQUEST_TOKENS} tokens per request`, 'max_tokens_per_request');
    return { object: 'list', data, model: body.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
  };

  const errorBody = (status: number): unknown => {
    if (status === 429) return { error: { message: 'Rate limit reached for requests. Please try again in 20ms.', type: 'requests', param: null, code: 'rate_limit_exceeded' } };
    if (status === 401) return { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } };
    if (status >= 500) return { error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null } };
    return { error: { message: `fake OpenAI error ${status}`, type: 'invalid_request_error', param: null, code: null } };
  };
  const served = await serve(handler, errorBody, () => ({ 'x-request-id': `req_${randomBytes(12).toString('hex')}` }));
  return { url: `http://127.0.0.1:${served.port}/v1`, apiKey, requests: served.requests, failNext: served.failNext, close: served.close };
}

// ---------------------------------------------------------------------------------------------
// Voyage AI: POST /v1/embeddings

export interface FakeVoyageOptions {
  /** Default 'pa-test-key'. */
  apiKey?: string;
  /** Overrides the per-model token cap of a request (1M for *-lite, 320K for voyage-3.5/4, 120K for the large and domain models). */
  maxBatchTokens?: number;
  /** Tokens per input before truncation (or, with truncation: false, a 400). Default 32,000. */
  contextLength?: number;
}

export interface FakeVoyage extends FakeEmbeddingServer {
  /** http://127.0.0.1:PORT: the base URL; the endpoint is `${url}/v1/embeddings`. */
  url: string;
  apiKey: string;
}

const VOYAGE_MAX_INPUTS = 1000;
/** Models, their default dimension, the other dimensions they accept, and their token cap per request. */
const VOYAGE_MODELS: Record<string, { dimensions: number; flexible: boolean; maxTokens: number }> = {
  'voyage-3.5-lite': { dimensions: 1024, flexible: true, maxTokens: 1_000_000 },
  'voyage-4-lite': { dimensions: 1024, flexible: true, maxTokens: 1_000_000 },
  'voyage-3.5': { dimensions: 1024, flexible: true, maxTokens: 320_000 },
  'voyage-4': { dimensions: 1024, flexible: true, maxTokens: 320_000 },
  'voyage-3-large': { dimensions: 1024, flexible: true, maxTokens: 120_000 },
  'voyage-4-large': { dimensions: 1024, flexible: true, maxTokens: 120_000 },
  'voyage-code-3': { dimensions: 1024, flexible: true, maxTokens: 120_000 },
  'voyage-finance-2': { dimensions: 1024, flexible: false, maxTokens: 120_000 },
  'voyage-law-2': { dimensions: 1024, flexible: false, maxTokens: 120_000 },
};
const VOYAGE_DIMENSIONS = [256, 512, 1024, 2048];
/** The prompts Voyage prepends for an input_type (documented on its embeddings page). */
const VOYAGE_PROMPTS: Record<string, string> = {
  query: 'Represent the query for retrieving supporting documents: ',
  document: 'Represent the document for retrieval: ',
};

function voyageError(status: number, detail: string): HttpError {
  return new HttpError(status, { detail });
}

/**
 * A fake of Voyage AI's text embeddings endpoint. Like the real API: `Authorization: Bearer` or
 * 401 `{"detail":"Provided API key is invalid."}`; errors as `{"detail": "..."}`; input a string
 * or 1..1000 strings; `input_type` null, "query" or "document" (the fake, like Voyage, prepends
 * the matching retrieval prompt before embedding); the per-model token cap per request (400
 * "The max allowed tokens per submitted batch is …"); truncation to the context unless
 * `truncation: false`; `output_dimension` 256/512/1024/2048 on the models that have it.
 */
export async function startFakeVoyage(options: FakeVoyageOptions = {}): Promise<FakeVoyage> {
  const apiKey = options.apiKey ?? 'pa-test-key';
  const contextLength = options.contextLength ?? 32_000;

  const handler: Handler = (record) => {
    if (record.method !== 'POST' || record.path !== '/v1/embeddings') throw voyageError(404, 'Not Found');
    if (bearer(record.headers) !== apiKey) throw voyageError(401, 'Provided API key is invalid.');
    const body = record.body;
    if (body === undefined || typeof body !== 'object' || body === null || Array.isArray(body)) throw voyageError(400, 'The request body is not a valid JSON.');
    const inputs: unknown[] = typeof body.input === 'string' ? [body.input] : Array.isArray(body.input) ? body.input : [];
    if (body.input === undefined) throw voyageError(400, "Field 'input' is required.");
    if (inputs.length === 0 || !inputs.every((item) => typeof item === 'string')) throw voyageError(400, "Argument 'input' must be a string or a non-empty list of strings.");
    if (inputs.length > VOYAGE_MAX_INPUTS) throw voyageError(400, `The batch size limit is ${VOYAGE_MAX_INPUTS}. Your batch size is ${inputs.length}.`);
    if (!body.model) throw voyageError(400, "Field 'model' is required.");
    const model = VOYAGE_MODELS[body.model];
    if (!model) throw voyageError(400, `Model ${body.model} is not supported. Supported models are ${Object.keys(VOYAGE_MODELS).join(', ')}.`);
    const inputType = body.input_type ?? null;
    if (inputType !== null && !(inputType in VOYAGE_PROMPTS)) {
      throw voyageError(400, `Value '${inputType}' supplied for argument 'input_type' is not valid -- accepted values: None, 'query', 'document'.`);
    }
    const dimension = body.output_dimension ?? null;
    if (dimension !== null && (!model.flexible ? dimension !== model.dimensions : !VOYAGE_DIMENSIONS.includes(dimension))) {
      throw voyageError(400, `Value '${dimension}' supplied for argument 'output_dimension' is not valid for model ${body.model}.`);
    }

    let totalTokens = 0;
    const texts = (inputs as string[]).map((text, index) => {
      const tokens = tokenize(text);
      if (tokens > contextLength && body.truncation === false) {
        throw voyageError(400, `Input at index ${index} has ${tokens} tokens, which exceeds the context length of ${contextLength} tokens for model ${body.model}. Please shorten the input or set truncation to true.`);
      }
      totalTokens += Math.min(tokens, contextLength);
      return tokens > contextLength ? truncateTokens(text, contextLength) : text;
    });
    const maxTokens = options.maxBatchTokens ?? model.maxTokens;
    if (totalTokens > maxTokens) {
      throw voyageError(400, `Request to model '${body.model}' failed. The max allowed tokens per submitted batch is ${maxTokens}. Your batch has ${totalTokens} tokens after truncation. Please lower the number of tokens in the batch.`);
    }
    const prompt = inputType ? VOYAGE_PROMPTS[inputType] : '';
    const data = texts.map((text, index) => ({
      object: 'embedding',
      embedding: fakeEmbedding(prompt + text, body.model, dimension ?? model.dimensions),
      index,
    }));
    return { object: 'list', data, model: body.model, usage: { total_tokens: totalTokens } };
  };

  const errorBody = (status: number): unknown => ({
    detail: status === 429
      ? 'You have exceeded your rate limit. Please pace your requests or request a higher limit.'
      : status >= 500 ? 'Internal server error. Please retry your request after a brief wait.' : `fake Voyage error ${status}`,
  });
  const served = await serve(handler, errorBody);
  return { url: `http://127.0.0.1:${served.port}`, apiKey, requests: served.requests, failNext: served.failNext, close: served.close };
}
