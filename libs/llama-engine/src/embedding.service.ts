import { JobPool } from '@maas/media';
import { normalize } from './embedding-vector';
import { EmbeddingRuntime } from './llama-runtime';

export interface EmbeddingOutcome {
  /** Unit-length vectors, in input order. */
  readonly vectors: Float32Array[];
  /** Tokens evaluated over all inputs. */
  readonly tokens: number;
}

/**
 * Embeds a batch of inputs on the embedding context. node-llama-cpp's embedding context has one
 * sequence, so inputs are evaluated one at a time; each is its own pool job under the request's
 * name, so a request with a thousand inputs takes turns with a request that brings one.
 */
export class EmbeddingService {
  constructor(
    private readonly runtime: EmbeddingRuntime,
    readonly pool: JobPool,
  ) {}

  get dimensions(): number {
    return this.runtime.dimensions;
  }

  get contextSize(): number {
    return this.runtime.contextSize;
  }

  inputLength(input: string | readonly number[]): number {
    return this.runtime.inputLength(input);
  }

  async embed(
    inputs: ReadonlyArray<string | readonly number[]>,
    options: { owner?: string; signal?: AbortSignal } = {},
  ): Promise<EmbeddingOutcome> {
    // One failed input cancels the others still queued: the request fails as a whole.
    const batch = new AbortController();
    const cancel = () => batch.abort(options.signal?.reason ?? 'cancelled');
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      const vectors = await Promise.all(
        inputs.map((input) =>
          this.pool
            .run(async () => normalize(await this.runtime.embed(input)), { owner: options.owner, signal: batch.signal })
            .catch((err: unknown) => {
              batch.abort('another input of the batch failed');
              throw err;
            }),
        ),
      );
      return { vectors, tokens: inputs.reduce((sum, input) => sum + this.runtime.inputLength(input), 0) };
    } finally {
      options.signal?.removeEventListener('abort', cancel);
    }
  }
}
