import { connect, NatsConnection } from 'nats';
import { KeyCreateRequest, RequestCompleted, RequestsCompleted, Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import {
  createTestDatabase,
  deleteStreams,
  startNode,
  StartedProcess,
  startService,
  StartedService,
  TestDatabase,
  testNamespace,
  testNatsUrl,
} from '@maas/testing';

export const MODEL = 'Qwen/Qwen2.5-3B-Instruct';
export const PROFILE = 'a100-qwen2.5-3b';

/** A JSON body, untyped: tests assert its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const json = (res: Response): Promise<any> => res.json();

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitUntil<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

export interface Worker extends StartedProcess {
  readonly workerId: string;
  readonly url: string;
}

/**
 * The real platform around one gateway: router and key-registry on an isolated database and
 * subject namespace, the gateway, and simulated-engine workers started as `maas worker` processes.
 */
export class Stack {
  readonly namespace = testNamespace();
  readonly subjects = new Subjects(this.namespace);
  db!: TestDatabase;
  nc!: NatsConnection;
  bus!: MessageBus;
  router!: StartedService;
  keyRegistry!: StartedService;
  gateway!: StartedService;
  /** Gateways beyond the first (several share NATS, key-registry and the ledger). */
  readonly moreGateways: StartedService[] = [];
  readonly workers: Worker[] = [];
  private workerCount = 0;

  constructor(
    private readonly gatewayEnv: Record<string, string> = {},
    readonly natsUrl = testNatsUrl(),
  ) {}

  get env(): Record<string, string> {
    return { NATS_URL: this.natsUrl, MAAS_NAMESPACE: this.namespace, DATABASE_URL: this.db.url };
  }

  async start(): Promise<this> {
    this.db = await createTestDatabase('gw');
    this.nc = await connect({ servers: this.natsUrl, name: 'test', maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    this.bus = new MessageBus(this.nc, this.subjects);
    [this.router, this.keyRegistry] = await Promise.all([startService('router', this.env), startService('key-registry', this.env)]);
    this.gateway = await startService('gateway', { ...this.env, ...this.gatewayEnv });
    return this;
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop('SIGKILL')));
    await Promise.all([this.gateway?.stop(), ...this.moreGateways.map((g) => g.stop()), this.router?.stop(), this.keyRegistry?.stop()]);
    if (this.nc) {
      await deleteStreams(this.nc, this.namespace);
      await this.nc.close();
    }
    await this.db?.drop();
  }

  /** One more gateway process on the same platform, with extra environment. */
  async startGateway(env: Record<string, string> = {}): Promise<StartedService> {
    const gateway = await startService('gateway', { ...this.env, ...this.gatewayEnv, ...env });
    this.moreGateways.push(gateway);
    return gateway;
  }

  async createKey(request: Partial<KeyCreateRequest> = {}): Promise<{ secret: string; keyId: string; prefix: string }> {
    const created = await this.bus.request('key-registry.create', { userEmail: 'ada@example.org', ...request });
    return { secret: created.secret, keyId: created.key.keyId, prefix: created.key.prefix };
  }

  /** Starts `maas worker --sim-profile …`; resolves once the gateway has it in its replica (any state). */
  async startWorker(args: string[] = [], options: { waitForGateway?: boolean } = {}): Promise<Worker> {
    const workerId = `w${++this.workerCount}-${this.namespace.slice(-4)}`;
    const proc = startNode('bin/maas.js', { ...this.env, LOG_LEVEL: 'info' }, [
      'worker',
      '--sim-profile',
      PROFILE,
      '--worker-id',
      workerId,
      '--heartbeat',
      '500ms',
      ...args,
    ]);
    const registered = await proc.waitFor((r) => r.msg === 'worker registered', 30_000, `registration of ${workerId}`);
    const worker: Worker = { ...proc, workerId, url: String(registered.url) };
    this.workers.push(worker);
    if (options.waitForGateway !== false) {
      await this.gateway.waitFor((r) => r.msg === 'worker joined' && r.workerId === workerId, 10_000, `gateway learning ${workerId}`);
    }
    return worker;
  }

  /** Every usage event stored in JetStream so far, in order: batches (`usage.requests-completed`) opened, single events as they are. */
  async usageEvents(): Promise<RequestCompleted[]> {
    const jsm = await this.nc.jetstreamManager();
    const name = this.subjects.stream('usage');
    const info = await jsm.streams.info(name).catch(() => undefined);
    if (!info || info.state.messages === 0) return [];
    const events: RequestCompleted[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(name, { seq });
      const body = JSON.parse(new TextDecoder().decode(m.data)) as RequestCompleted | RequestsCompleted;
      if ('records' in body) events.push(...body.records.map((r) => r.event as RequestCompleted));
      else events.push(body);
    }
    return events;
  }

  /** The usage events of one request id (the gateway's, or the client's `X-Request-Id`), waiting until at least one has been stored. */
  async usageOf(requestId: string, timeoutMs = 5000): Promise<RequestCompleted[]> {
    return waitUntil(
      async () => {
        const events = (await this.usageEvents()).filter((e) => e.requestId === requestId || e.clientRequestId === requestId);
        return events.length > 0 ? events : undefined;
      },
      timeoutMs,
      `usage event of ${requestId}`,
    );
  }

  url(path: string): string {
    return `${this.gateway.url}${path}`;
  }

  post(path: string, secret: string | undefined, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(this.url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(secret ? { authorization: `Bearer ${secret}` } : {}), ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }
}

export interface SseRead {
  /** `data:` payloads in order, parsed when JSON. */
  events: unknown[];
  done: boolean;
  /** The stream ended normally (no network error while reading). */
  cleanClose: boolean;
  error?: string;
}

/** Reads a whole SSE response; `onEvent` sees each payload as it arrives. */
export async function readSse(res: Response, onEvent?: (data: unknown, index: number) => void): Promise<SseRead> {
  const out: SseRead = { events: [], done: false, cleanClose: false };
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        for (const line of block.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const data = line.slice(6);
          if (data === '[DONE]') {
            out.done = true;
            continue;
          }
          let parsed: unknown = data;
          try {
            parsed = JSON.parse(data);
          } catch {
            // keep the raw text
          }
          out.events.push(parsed);
          onEvent?.(parsed, out.events.length - 1);
        }
      }
    }
    out.cleanClose = true;
  } catch (err) {
    out.error = (err as Error).message;
  }
  return out;
}

export const chatBody = (over: Record<string, unknown> = {}) => ({
  model: MODEL,
  messages: [{ role: 'user', content: 'Say hello.' }],
  max_tokens: 8,
  ...over,
});
