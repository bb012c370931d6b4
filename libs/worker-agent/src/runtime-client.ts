import type { Capability } from '@maas/contracts';

/** What the runtime says about a model it serves (`GET /v1/models`). */
export interface RuntimeModel {
  readonly id: string;
  /** vLLM's `max_model_len`, when given. */
  readonly maxModelLen?: number;
  /** What the runtime says the model offers (our OCR and speech runtimes do; vLLM and llama.cpp do not). */
  readonly capabilities?: readonly Capability[];
}

const CAPABILITIES: readonly unknown[] = ['chat', 'completion', 'embedding', 'transcription', 'ocr'] satisfies Capability[];
const isCapability = (c: unknown): c is Capability => CAPABILITIES.includes(c);

/** One `data[]` entry of `/v1/models`, or undefined when it names no model. */
export function runtimeModel(entry: { id?: unknown; max_model_len?: unknown; capabilities?: unknown }): RuntimeModel | undefined {
  if (typeof entry.id !== 'string' || entry.id.length === 0) return undefined;
  const len = entry.max_model_len;
  const declared = Array.isArray(entry.capabilities) ? [...new Set(entry.capabilities.filter(isCapability))] : [];
  return {
    id: entry.id,
    ...(Number.isInteger(len) && (len as number) > 0 ? { maxModelLen: len as number } : {}),
    ...(declared.length > 0 ? { capabilities: declared } : {}),
  };
}

export type RuntimeHealth = 'ready' | 'loading' | 'down';

/** The runtime's own HTTP API, as the agent reads it: served models, health and load. */
export class RuntimeClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 1500,
    /** The key the runtime demands (vLLM's and llama-server's --api-key). */
    private readonly apiKey?: string,
  ) {}

  private get(path: string): Promise<Response> {
    return fetch(`${this.baseUrl.replace(/\/$/, '')}${path}`, {
      signal: AbortSignal.timeout(this.timeoutMs),
      ...(this.apiKey ? { headers: { authorization: `Bearer ${this.apiKey}` } } : {}),
    });
  }

  /** The served models; throws with the reason when the runtime cannot list them yet. */
  async models(): Promise<RuntimeModel[]> {
    const res = await this.get('/v1/models');
    if (!res.ok) throw new Error(`GET /v1/models answered ${res.status}`);
    const body = (await res.json()) as { data?: unknown };
    const entries = Array.isArray(body.data) ? (body.data as unknown[]) : [];
    const models = entries
      .flatMap((m) => (typeof m === 'object' && m !== null ? [runtimeModel(m)] : []))
      .filter((m): m is RuntimeModel => m !== undefined);
    if (models.length === 0) throw new Error('GET /v1/models listed no model');
    return models;
  }

  /** `/health`: 200 ready, 503 still loading (llama.cpp, our simulator); no answer at all is down. */
  async health(): Promise<RuntimeHealth> {
    try {
      const res = await this.get('/health');
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return 'ready';
      if (res.status === 404)
        return (await this.models().then(
          () => true,
          () => false,
        ))
          ? 'ready'
          : 'loading';
      return 'loading';
    } catch {
      return 'down';
    }
  }

  /** Prometheus text of `/metrics`, or undefined when the runtime has none. */
  async metrics(): Promise<string | undefined> {
    try {
      const res = await this.get('/metrics');
      if (!res.ok) {
        await res.arrayBuffer().catch(() => undefined);
        return undefined;
      }
      return await res.text();
    } catch {
      return undefined;
    }
  }
}
