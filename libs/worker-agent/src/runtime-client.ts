/** What the runtime says about a model it serves (`GET /v1/models`). */
export interface RuntimeModel {
  readonly id: string;
  /** vLLM's `max_model_len`, when given. */
  readonly maxModelLen?: number;
}

export type RuntimeHealth = 'ready' | 'loading' | 'down';

/** The runtime's own HTTP API, as the agent reads it: served models, health and load. */
export class RuntimeClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 1500,
  ) {}

  private get(path: string): Promise<Response> {
    return fetch(`${this.baseUrl.replace(/\/$/, '')}${path}`, { signal: AbortSignal.timeout(this.timeoutMs) });
  }

  /** The served models; throws with the reason when the runtime cannot list them yet. */
  async models(): Promise<RuntimeModel[]> {
    const res = await this.get('/v1/models');
    if (!res.ok) throw new Error(`GET /v1/models answered ${res.status}`);
    const body = (await res.json()) as { data?: { id?: unknown; max_model_len?: unknown }[] };
    const models = (body.data ?? [])
      .filter((m): m is { id: string; max_model_len?: unknown } => typeof m.id === 'string' && m.id.length > 0)
      .map((m) => ({ id: m.id, ...(Number.isInteger(m.max_model_len) && (m.max_model_len as number) > 0 ? { maxModelLen: m.max_model_len as number } : {}) }));
    if (models.length === 0) throw new Error('GET /v1/models listed no model');
    return models;
  }

  /** `/health`: 200 ready, 503 still loading (llama.cpp, our simulator); no answer at all is down. */
  async health(): Promise<RuntimeHealth> {
    try {
      const res = await this.get('/health');
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return 'ready';
      if (res.status === 404) return (await this.models().then(() => true, () => false)) ? 'ready' : 'loading';
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
