import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { handleGeneration } from './completions-handler';
import { handleEmbeddings } from './embeddings-handler';
import { SimulatedEngine } from './engine';
import { SchedulingPolicy } from './engine-types';
import { FaultSpec } from './faults';
import { sendError, sendJson, readJson } from './http-io';
import { EngineMetrics, renderMetrics } from './metrics';
import { ApiError, runtimeKeyRefusal } from './openai-requests';
import { FinishReason } from './openai-responses';
import { EngineProfile, validateProfile } from './profile';
import { RealtimeEngine } from './realtime';
import { ServingContext } from './serving-context';

export interface SimServerOptions {
  readonly profile: EngineProfile;
  /** Served model name; defaults to the profile's Hugging Face id. */
  readonly model?: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Simulated seconds per wall second (10 runs the engine ten times faster than the profile). */
  readonly timeScale?: number;
  readonly startupSeconds?: number;
  readonly faults?: FaultSpec;
  readonly seed?: number;
  /** vLLM's --scheduling-policy (default 'fcfs'); 'priority' honours the request body's `priority`. */
  readonly schedulingPolicy?: SchedulingPolicy;
  /**
   * vLLM's --max-num-batched-tokens, the step's token budget (default: the profile's). Smaller keeps steps
   * that carry long prompt chunks short, so decoding and short prompts wait less; long prompts take more steps.
   */
  readonly maxNumBatchedTokens?: number;
  /** vLLM's --long-prefill-token-threshold: most prompt tokens of one request in one step (default: the profile's, off). */
  readonly longPrefillTokenThreshold?: number;
  /** vLLM's --api-key: every path but /health and /metrics then needs `Authorization: Bearer <apiKey>` (else 401). */
  readonly apiKey?: string;
}

export interface SimServer {
  readonly url: string;
  readonly port: number;
  readonly model: string;
  readonly runtime: RealtimeEngine;
  /** Resolves once the start-up delay has passed and the engine serves. */
  readonly ready: Promise<void>;
  /** Resolves with the reason if the engine crashes (injected failure). */
  readonly crashed: Promise<string>;
  close(): Promise<void>;
}

/** An OpenAI-compatible HTTP server over a simulated engine on the wall clock. */
export async function startSimServer(options: SimServerOptions): Promise<SimServer> {
  const profile = validateProfile({
    ...options.profile,
    ...(options.maxNumBatchedTokens === undefined ? {} : { maxBatchedTokens: options.maxNumBatchedTokens }),
    ...(options.longPrefillTokenThreshold === undefined ? {} : { longPrefillTokenThreshold: options.longPrefillTokenThreshold }),
  });
  const model = options.model ?? profile.model;
  const schedulingPolicy = options.schedulingPolicy ?? 'fcfs';
  const engine = new SimulatedEngine({
    profile,
    startupSeconds: options.startupSeconds,
    faults: options.faults,
    seed: options.seed,
    granularity: 'step',
    schedulingPolicy,
  });
  const runtime = new RealtimeEngine(engine, options.timeScale ?? 1);
  const metrics = new EngineMetrics();
  const finishReasons = new Map<string, FinishReason>();
  let state: 'starting' | 'ready' | 'crashed' = 'starting';
  let onReady: () => void = () => undefined;
  let onCrash: (reason: string) => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const crashed = new Promise<string>((resolve) => (onCrash = resolve));
  runtime.observe((event) => {
    if (event.type === 'ready') {
      state = 'ready';
      onReady();
      return;
    }
    if (event.type === 'crashed') {
      state = 'crashed';
      onCrash(event.message);
      return;
    }
    metrics.observe(event, event.type === 'finished' ? finishReasons.get(event.id) : undefined);
    if (event.type === 'finished' || event.type === 'failed') finishReasons.delete(event.id);
  });
  const ctx: ServingContext = { profile, model, schedulingPolicy, runtime, metrics, finishReasons, state: () => state };
  const { apiKey } = options;
  const server = http.createServer((req, res) => {
    const refusal = apiKey ? runtimeKeyRefusal((req.url ?? '/').split('?')[0], req.headers.authorization, apiKey) : undefined;
    if (refusal) {
      // the body is not read: close rather than drain it
      res.shouldKeepAlive = false;
      return sendError(res, refusal);
    }
    route(ctx, req, res).catch((err: unknown) => sendError(res, err));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8000, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    model,
    runtime,
    ready,
    crashed,
    close: () =>
      new Promise<void>((resolve) => {
        runtime.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function route(ctx: ServingContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const method = req.method ?? 'GET';
  const expect = (m: string) => {
    if (method !== m) throw new ApiError(405, `${method} is not allowed on ${path}; use ${m}`);
  };
  if (path === '/metrics') {
    expect('GET');
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(renderMetrics(ctx.model, ctx.runtime.snapshot(), ctx.metrics));
    return;
  }
  if (path === '/health') {
    expect('GET');
    serving(ctx);
    res.writeHead(200).end();
    return;
  }
  if (path === '/v1/models') {
    expect('GET');
    serving(ctx);
    sendJson(res, 200, {
      object: 'list',
      data: [
        {
          id: ctx.model,
          object: 'model',
          created: 0,
          owned_by: 'maas-sim',
          root: ctx.model,
          parent: null,
          max_model_len: ctx.profile.maxModelLen,
        },
      ],
    });
    return;
  }
  if (path === '/v1/chat/completions' || path === '/v1/completions' || path === '/v1/embeddings') {
    expect('POST');
    serving(ctx);
    const body = await readJson(req);
    if (path === '/v1/embeddings') return handleEmbeddings(ctx, body, res);
    return handleGeneration(ctx, path === '/v1/chat/completions' ? 'chat' : 'completion', body, res);
  }
  throw new ApiError(404, `no route for ${method} ${path}`, 'invalid_request_error', null, 'not_found');
}

/** vLLM is not listening until loaded; the simulator answers, but only with 503 until then. */
function serving(ctx: ServingContext): void {
  // The ready event may be due but not yet delivered by the timer.
  if (ctx.state() === 'starting') ctx.runtime.sync();
  const state = ctx.state();
  if (state === 'starting') throw new ApiError(503, 'the engine is still loading the model', 'server_error', null, 'engine_starting');
  if (state === 'crashed') throw new ApiError(503, 'the engine has crashed', 'server_error', null, 'engine_dead');
}
