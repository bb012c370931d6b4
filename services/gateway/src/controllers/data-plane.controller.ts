import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { Logger } from '@maas/logging';
import { BatchController, isBatchPath } from '../batch/batch.controller';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { INFERENCE_ROUTES, InferenceRoute } from '../policy/openai-request';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { HttpExchange } from '../services/http-exchange';
import { InferenceService } from '../services/inference.service';
import { KeyAuthService } from '../services/key-auth.service';
import { ModelsService } from '../services/models.service';
import { NetworkPolicy } from '../services/network-policy';
import { TokenBudgetService } from '../services/token-budget.service';
import { UsageService } from '../services/usage.service';

const inFlightGauge = new Gauge({ name: 'maas_gateway_in_flight_requests', help: 'Inference requests being served' });

const ROUTES = new Map<string, InferenceRoute>(INFERENCE_ROUTES.map((r) => [r.path, r]));
const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;
const MODELS = '/v1/models';
const USAGE = '/v1/usage';

/**
 * `/v1/*` on plain node:http, ahead of Express: the hot path skips Nest's middleware, pipes and
 * body parsers (Nest still owns the app, `/health` and `/metrics`). Thin: one call per route.
 */
@Injectable()
export class DataPlaneController implements BeforeApplicationShutdown {
  private readonly inFlight = new Set<HttpExchange>();
  private closing = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly inference: InferenceService,
    private readonly keys: KeyAuthService,
    private readonly models: ModelsService,
    private readonly budget: TokenBudgetService,
    private readonly usage: UsageService,
    private readonly network: NetworkPolicy,
    private readonly logger: Logger,
    private readonly batches: BatchController,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    // Usage is keyed on an id of the gateway's own: a client reusing one id must not make its later requests duplicates.
    const requestId = `req-${randomUUID()}`;
    const ex = new HttpExchange(req, res, requestId, this.clock.now(), this.clock.monotonic());
    const given = req.headers['x-request-id'];
    if (typeof given === 'string' && REQUEST_ID.test(given)) ex.clientRequestId = given;
    if (this.closing)
      return ex.sendError(503, 'the gateway is shutting down', 'shutting_down', null, { 'retry-after': '1', connection: 'close' });
    ex.clientAddress = this.network.clientAddress(req);
    if (!this.network.allowed(ex.clientAddress)) {
      req.resume();
      return ex.sendError(
        403,
        `the API may not be used from ${ex.clientAddress ?? 'an unknown address'} (not in GATEWAY_ALLOWED_CIDRS)`,
        'address_not_allowed',
      );
    }

    const route = ROUTES.get(path);
    if (route) {
      if (req.method !== 'POST') return ex.sendError(405, `${path} accepts POST only`, 'method_not_allowed', null, { allow: 'POST' });
      this.inFlight.add(ex);
      inFlightGauge.inc();
      const done = () => {
        if (!this.inFlight.delete(ex)) return;
        inFlightGauge.dec();
      };
      res.once('close', done);
      this.inference.handle(route, ex).catch((err) => {
        this.logger.error('unhandled error in request', { requestId, err });
        ex.sendError(500, 'internal error in the gateway', 'internal_error');
      });
      return;
    }
    if (path === USAGE) {
      if (req.method !== 'GET') return ex.sendError(405, `${path} accepts GET only`, 'method_not_allowed', null, { allow: 'GET' });
      void this.serveUsage(ex);
      return;
    }
    if (path === MODELS || path.startsWith(`${MODELS}/`)) {
      if (req.method !== 'GET') return ex.sendError(405, `${path} accepts GET only`, 'method_not_allowed', null, { allow: 'GET' });
      void this.serveModels(ex, path.length > MODELS.length + 1 ? path.slice(MODELS.length + 1) : undefined);
      return;
    }
    if (isBatchPath(path)) {
      void this.batches.handle(ex, path, new URLSearchParams(q === -1 ? '' : url.slice(q + 1)));
      return;
    }
    ex.sendError(404, `unknown request URL: ${req.method} ${path}`, 'unknown_url');
  }

  private async serveModels(ex: HttpExchange, rawId: string | undefined): Promise<void> {
    ex.req.resume();
    const auth = await this.keys.authenticate(ex.req.headers.authorization, ex.clientAddress);
    if (!auth.ok) return ex.sendError(auth.status, auth.message, auth.code, null, auth.headers);
    ex.rateLimitHeaders = this.usage.limitHeaders(auth.key);
    if (rawId === undefined) return ex.sendJson(200, this.models.list(auth.key));
    let id: string;
    try {
      id = decodeURIComponent(rawId);
    } catch {
      return ex.sendError(400, 'model id is not valid URL encoding', 'invalid_value', 'model');
    }
    const model = this.models.get(auth.key, id);
    if (!model) return ex.sendError(404, `the model "${id}" does not exist or no worker serves it`, 'model_not_found', 'model');
    ex.sendJson(200, model);
  }

  /** The calling key's token use and limits per window, for chat and for batch. */
  private async serveUsage(ex: HttpExchange): Promise<void> {
    ex.req.resume();
    const auth = await this.keys.authenticate(ex.req.headers.authorization, ex.clientAddress);
    if (!auth.ok) return ex.sendError(auth.status, auth.message, auth.code, null, auth.headers);
    const report = await this.budget.report(auth.key);
    ex.rateLimitHeaders = this.usage.limitHeaders(auth.key);
    ex.sendJson(200, report);
  }

  /** Stops taking requests, lets running ones finish for a grace period, then cuts the rest with an error. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    const deadline = this.clock.monotonic() + this.config.GATEWAY_SHUTDOWN_GRACE;
    while (this.inFlight.size > 0 && this.clock.monotonic() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (this.inFlight.size === 0) return;
    this.logger.warn('cutting requests still running at shutdown', { count: this.inFlight.size });
    for (const ex of this.inFlight) {
      if (ex.interrupt) ex.interrupt('the gateway is shutting down', 'gateway_shutdown');
      else ex.res.destroy();
    }
  }
}
