import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestCompleted } from '@maas/contracts';
import { loadConfig } from '@maas/config';
import { Logger } from '@maas/logging';
import { factory } from '@maas/testing';
import { gatewayConfigSpec } from '../src/gateway.config';
import type { VerifiedKey } from '../src/policy/key-cache';
import { INFERENCE_ROUTES } from '../src/policy/openai-request';
import { gatewayClock } from '../src/repositories/clock';
import type { LedgerRepository } from '../src/repositories/ledger.repository';
import type { RegistryRepository } from '../src/repositories/registry.repository';
import { UpstreamRepository } from '../src/repositories/upstream.repository';
import type { UsageRepository } from '../src/repositories/usage.repository';
import { DispatchOutcome, DispatchService } from '../src/services/dispatch.service';
import { RequestKind, RoutingService } from '../src/services/routing.service';
import { TokenBudgetService } from '../src/services/token-budget.service';
import { UsageService } from '../src/services/usage.service';
import { WorkerRegistryService } from '../src/services/worker-registry.service';

/**
 * Every request ends exactly once: one usage event, and every worker slot it took (one per attempt)
 * given back, whether it succeeds, is retried, is abandoned by its client, is cut by the runtime or
 * waits for capacity in vain. DispatchService runs for real against runtimes on loopback sockets.
 */

const MODEL = 'settle/model';
const CHAT = INFERENCE_ROUTES.find((r) => r.endpoint === 'chat.completions')!;
const KEY: VerifiedKey = {
  keyId: 'key-settle',
  userId: 'ada@example.org',
  prefix: 'settle00',
  trusted: false,
  limits: {},
  allowsModel: () => true,
};

/** Routing as the gateway runs it, with its worker counts kept per request. */
class CountedRouting extends RoutingService {
  readonly starts: string[] = [];
  readonly finishes: string[] = [];
  override started(workerId: string, kind: RequestKind = 'interactive', requestId?: string): void {
    this.starts.push(workerId);
    super.started(workerId, kind, requestId);
  }
  override finished(workerId: string, kind: RequestKind = 'interactive'): void {
    this.finishes.push(workerId);
    super.finished(workerId, kind);
  }
}

/** The usage events as they would go to JetStream. */
class RecordedUsage {
  readonly events: RequestCompleted[] = [];
  record(event: RequestCompleted): void {
    this.events.push(event);
  }
}

type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const COMPLETION = JSON.stringify({
  id: 'c1',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
});
const answer: Behaviour = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(COMPLETION);
};
const sseChunk = (text: string) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: text } }] })}\n\n`;

describe('DispatchService settles each request exactly once', () => {
  const servers: http.Server[] = [];
  const logger = new Logger('gateway-test', 'error');
  let routing: CountedRouting;
  let usage: RecordedUsage;
  let registry: WorkerRegistryService;
  let dispatcher: DispatchService;
  let n = 0;

  async function runtime(behaviour: Behaviour): Promise<string> {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => behaviour(req, res));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  function worker(url: string, state: 'ready' | 'starting' = 'ready'): void {
    registry.registered(factory.workerRegistered({ url, state, capacity: 8, models: [{ id: MODEL, capabilities: ['chat'] }] }));
  }

  beforeEach(() => {
    const config = loadConfig(gatewayConfigSpec, {
      GATEWAY_HOLD_TIMEOUT: '300ms',
      GATEWAY_UPSTREAM_ATTEMPTS: '3',
      GATEWAY_IDLE_TIMEOUT: '5s',
    });
    const unused = <T>(name: string) => new Proxy({}, { get: () => () => Promise.reject(new Error(`${name} is not used here`)) }) as T;
    registry = new WorkerRegistryService(config, gatewayClock, unused<RegistryRepository>('the router snapshot'), logger);
    routing = new CountedRouting(config, gatewayClock, registry);
    usage = new RecordedUsage();
    const budget = new TokenBudgetService(config, gatewayClock, unused<LedgerRepository>('the ledger'), logger);
    const usageService = new UsageService(gatewayClock, usage as unknown as UsageRepository, budget, registry);
    dispatcher = new DispatchService(config, gatewayClock, registry, routing, new UpstreamRepository(), usageService, logger);
  });

  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  function start(body: object, signal = new AbortController().signal): { requestId: string; outcome: Promise<DispatchOutcome> } {
    const requestId = `req-settle-${++n}`;
    const settlement = dispatcher.begin(requestId, CHAT, KEY, gatewayClock.now(), gatewayClock.monotonic());
    const raw = Buffer.from(JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hello' }], ...body }));
    return { requestId, outcome: dispatcher.dispatch({ settlement, raw, contentType: 'application/json', signal }) };
  }

  async function drain(outcome: DispatchOutcome): Promise<{ text: string; cut: boolean }> {
    if (outcome.kind !== 'answer') throw new Error(`expected an answer, got ${JSON.stringify(outcome)}`);
    const chunks: Buffer[] = [];
    try {
      for await (const c of outcome.body) chunks.push(c as Buffer);
    } catch {
      return { text: Buffer.concat(chunks).toString(), cut: true };
    }
    return { text: Buffer.concat(chunks).toString(), cut: false };
  }

  /** Waits for the request's usage event(s), then a little longer for any second one. */
  async function settledOnce(requestId: string): Promise<RequestCompleted> {
    for (let i = 0; i < 200 && !usage.events.some((e) => e.requestId === requestId); i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    const events = usage.events.filter((e) => e.requestId === requestId);
    expect(events).toHaveLength(1);
    expect([...routing.finishes].sort()).toEqual([...routing.starts].sort());
    return events[0];
  }

  it('success: one event, the worker given back', async () => {
    worker(await runtime(answer));
    const { requestId, outcome } = start({});
    const got = await drain(await outcome);
    expect(JSON.parse(got.text).usage.completion_tokens).toBe(1);
    const event = await settledOnce(requestId);
    expect(event).toMatchObject({ status: 200, errorCode: null, completionTokens: 1, tokensCountedBy: 'runtime' });
    expect(routing.starts).toHaveLength(1);
  });

  it('retry: a refusal then an answer is one event, both attempts given back', async () => {
    let seen = 0;
    const refuseFirst: Behaviour = (req, res) => {
      if (seen++ === 0) {
        res.writeHead(503, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { message: 'loading', type: 'server_error', code: 'loading' } }));
      }
      answer(req, res);
    };
    worker(await runtime(refuseFirst));
    worker(await runtime(refuseFirst));
    const { requestId, outcome } = start({});
    await drain(await outcome);
    const event = await settledOnce(requestId);
    expect(event.status).toBe(200);
    expect(routing.starts).toHaveLength(2);
    expect(new Set(routing.starts).size).toBe(2);
  });

  it('client abort mid-stream: one 499 event', async () => {
    worker(
      await runtime((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(sseChunk('first'));
        // then silence: the client leaves before the rest
      }),
    );
    const gone = new AbortController();
    const { requestId, outcome } = start({ stream: true }, gone.signal);
    const o = await outcome;
    if (o.kind !== 'answer') throw new Error(`expected an answer, got ${o.kind}`);
    await new Promise((resolve) => o.body.once('data', resolve));
    gone.abort();
    const event = await settledOnce(requestId);
    expect(event).toMatchObject({ status: 499, errorCode: 'client_closed_request', stream: true });
  });

  it('upstream failure mid-stream: one 502 event and an error event for the client', async () => {
    worker(
      await runtime((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(sseChunk('first'), () => setTimeout(() => res.socket?.destroy(), 20));
      }),
    );
    const { requestId, outcome } = start({ stream: true });
    const got = await drain(await outcome);
    expect(got.cut).toBe(false);
    expect(got.text).toContain('upstream_disconnected');
    const event = await settledOnce(requestId);
    expect(event).toMatchObject({ status: 502, errorCode: 'upstream_disconnected' });
  });

  it('upstream failure mid-body (JSON): the body fails, one 502 event', async () => {
    worker(
      await runtime((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"id":', () => setTimeout(() => res.socket?.destroy(), 20));
      }),
    );
    const { requestId, outcome } = start({});
    const got = await drain(await outcome);
    expect(got.cut).toBe(true);
    const event = await settledOnce(requestId);
    expect(event).toMatchObject({ status: 502, errorCode: 'upstream_disconnected' });
  });

  it('hold timeout: a model with no ready worker is one 503 event and no worker touched', async () => {
    worker(await runtime(answer), 'starting');
    const { requestId, outcome } = start({});
    const o = await outcome;
    expect(o).toMatchObject({ kind: 'error', status: 503, code: 'no_capacity' });
    const event = await settledOnce(requestId);
    expect(event).toMatchObject({ status: 503, errorCode: 'no_capacity' });
    expect(routing.starts).toHaveLength(0);
  });

  it('client gone while held: one 499 event', async () => {
    worker(await runtime(answer), 'starting');
    const gone = new AbortController();
    const { requestId, outcome } = start({}, gone.signal);
    setTimeout(() => gone.abort(), 50);
    expect(await outcome).toEqual({ kind: 'gone' });
    const event = await settledOnce(requestId);
    expect(event).toMatchObject({ status: 499, errorCode: 'client_closed_request' });
  });

  it('a refused request (bad body) is one 400 event', async () => {
    worker(await runtime(answer));
    const requestId = `req-settle-${++n}`;
    const settlement = dispatcher.begin(requestId, CHAT, KEY, gatewayClock.now(), gatewayClock.monotonic());
    const o = await dispatcher.dispatch({
      settlement,
      raw: Buffer.from('{"model":'),
      contentType: 'application/json',
      signal: new AbortController().signal,
    });
    expect(o).toMatchObject({ kind: 'error', status: 400 });
    settlement.settle(500, 'a second settle does nothing');
    const event = await settledOnce(requestId);
    expect(event.status).toBe(400);
  });
});
