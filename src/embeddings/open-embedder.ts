// Picks the embedder from the config (LARES_EMBEDDER): the offline default model that ships in
// node_modules, a local Ollama, any OpenAI-compatible /v1/embeddings, Voyage, or none
// (keyword search alone). Each is loaded only when chosen.
import type { Config } from '../config/config.ts';
import type { Embedder } from './embedder.ts';

export async function openEmbedder(config: Pick<Config, 'embedder'>): Promise<Embedder | undefined> {
  const e = config.embedder;
  switch (e.kind) {
    case 'none':
      return undefined;
    case 'local': {
      const { LocalEmbedder } = await import('./local.ts');
      return new LocalEmbedder();
    }
    case 'ollama': {
      const { OllamaEmbedder } = await import('./ollama.ts');
      return new OllamaEmbedder({ baseUrl: e.ollamaUrl, model: e.model });
    }
    case 'openai': {
      const { OpenAiEmbedder } = await import('./openai.ts');
      return new OpenAiEmbedder({ apiKey: e.openaiApiKey, baseUrl: e.openaiBaseUrl, model: e.model, dimensions: e.dimensions });
    }
    case 'voyage': {
      const { VoyageEmbedder } = await import('./voyage.ts');
      return new VoyageEmbedder({ apiKey: e.voyageApiKey!, baseUrl: e.voyageBaseUrl, model: e.model });
    }
  }
}
