import type { IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { Logger } from '@maas/logging';
import { formatBytes } from '@maas/media';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import type { InferenceRoute } from '../policy/openai-request';
import { UsageChunkFilter } from '../policy/stream-usage';
import { BodyError, ClientGone, discardBody, HttpExchange, readBody } from './http-exchange';
import { Cancellation, DispatchAnswer, DispatchOutcome, DispatchService, Settlement } from './dispatch.service';
import { KeyAuthService } from './key-auth.service';
import { RequestSpan } from './request-span';

/** An oversized body up to this size is read to its end before the 413, so the client sees the answer. */
const DISCARD_LIMIT = 64 * 1024 * 1024;

/**
 * The proxied OpenAI endpoints over HTTP: authenticate, read the body, hand the request to
 * DispatchService, and relay its outcome byte for byte (backpressure, the client going away).
 */
@Injectable()
export class InferenceService {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly keys: KeyAuthService,
    private readonly dispatcher: DispatchService,
    private readonly logger: Logger,
  ) {}

  async handle(route: InferenceRoute, ex: HttpExchange): Promise<void> {
    const body = readBody(ex.req, this.maxBody(route));
    body.catch(() => undefined);
    const auth = await this.keys.authenticate(ex.req.headers.authorization, ex.clientAddress);
    if (!auth.ok) {
      ex.sendError(auth.status, auth.message, auth.code, null, auth.headers);
      return;
    }
    const settlement = this.dispatcher.begin(ex.requestId, route, auth.key, ex.startedAt, ex.t0, {
      endUser: endUserOf(ex.req, auth.key.trusted),
      span: RequestSpan.claim(ex.req),
    });
    settlement.record.clientRequestId = ex.clientRequestId;
    ex.rateLimitHeadersFrom(() => this.dispatcher.limitHeaders(settlement));
    const gone = new ClientGone();
    ex.whenGone(() => gone.abort());
    try {
      await this.serve(route, ex, settlement, body, gone);
    } catch (err) {
      this.logger.error('request failed unexpectedly', { requestId: ex.requestId, err });
      ex.sendError(500, 'internal error in the gateway', 'internal_error');
      settlement.settle(500, 'internal_error');
    } finally {
      // Whatever happened, the request is settled once (later calls do nothing).
      if (!settlement.settled && (ex.res.writableEnded || ex.clientGone)) {
        settlement.settle(ex.clientGone ? 499 : ex.res.statusCode, ex.clientGone ? 'client_closed_request' : null);
      }
    }
  }

  private async serve(
    route: InferenceRoute,
    ex: HttpExchange,
    settlement: Settlement,
    body: Promise<Buffer>,
    signal: Cancellation,
  ): Promise<void> {
    let raw: Buffer;
    try {
      raw = await body;
    } catch (err) {
      if (err instanceof BodyError && err.reason === 'too_large') {
        await discardBody(ex.req, DISCARD_LIMIT);
        const message = `${err.message} (${route.path} accepts at most ${formatBytes(this.maxBody(route))})`;
        ex.sendError(413, message, 'request_too_large', null, { connection: 'close' });
        return settlement.settle(413, 'request_too_large');
      }
      return settlement.settle(499, 'client_closed_request');
    }
    const traceparent = ex.req.headers.traceparent;
    const accept = ex.req.headers.accept;
    const outcome = await this.dispatcher.dispatch({
      settlement,
      raw,
      askStreamUsage: true,
      contentType: ex.req.headers['content-type'],
      accept: typeof accept === 'string' ? accept : undefined,
      traceparent: typeof traceparent === 'string' ? traceparent : undefined,
      signal,
    });
    if (settlement.rateLimitHeaders) ex.rateLimitHeaders = settlement.rateLimitHeaders;
    this.relay(ex, outcome);
  }

  private relay(ex: HttpExchange, outcome: DispatchOutcome): void {
    if (outcome.kind === 'gone') return;
    if (outcome.kind === 'error') {
      RequestSpan.of(ex.req)?.answeredError(outcome.code);
      return ex.sendJson(outcome.status, outcome.body, outcome.headers);
    }
    this.stream(ex, outcome, outcome.usageAsked);
  }

  /** The runtime's answer as it comes; a body cut short destroys the response (the client sees the connection fail). */
  private stream(ex: HttpExchange, answer: DispatchAnswer, stripUsage: boolean): void {
    const { body } = answer;
    // The usage chunk the gateway asked for on the client's behalf does not reach a client that did not ask.
    const filter = stripUsage ? new UsageChunkFilter() : undefined;
    if (ex.clientGone) return void body.destroy();
    ex.res.writeHead(answer.status, { ...ex.rateLimitHeaders, ...answer.headers, 'x-request-id': ex.requestId });
    ex.interrupt = answer.interrupt;
    // A chunk is held in the socket until this turn's ticks have run (not only the write's own, as
    // node:http holds it): when the runtime's last bytes and the end of its answer arrive together,
    // the last chunk and the end of the response leave in one write. Chunks that arrive apart still
    // leave apart (no re-batching of a stream's events).
    const socket = ex.res.socket;
    const release = socket ? () => socket.uncork() : undefined;
    body.on('data', (chunk: Buffer) => {
      if (release && !socket!.writableCorked) {
        socket!.cork();
        queueMicrotask(release);
      }
      if (!ex.res.write(filter ? filter.push(chunk) : chunk)) {
        body.pause();
        ex.res.once('drain', () => body.resume());
      }
    });
    body.on('end', () => {
      ex.interrupt = undefined;
      ex.res.end(filter?.end());
    });
    body.on('error', () => {
      ex.interrupt = undefined;
      if (!ex.res.writableEnded) ex.res.destroy();
    });
  }

  private maxBody(route: InferenceRoute): number {
    if (route.endpoint === 'ocr') return this.config.GATEWAY_MAX_BODY_OCR;
    if (route.endpoint === 'audio.transcriptions') return this.config.GATEWAY_MAX_BODY_TRANSCRIPTION;
    return this.config.GATEWAY_MAX_BODY_BYTES;
  }
}

/** The end user a trusted key (Open WebUI's) acts for, from the headers it forwards. */
function endUserOf(req: IncomingMessage, trusted: boolean): string | undefined {
  if (!trusted) return undefined;
  const v = req.headers['x-openwebui-user-email'];
  // Lower-cased: the same person must not be billed under two spellings of one address.
  return typeof v === 'string' && v.length > 0 && v.length <= 320 ? v.trim().toLowerCase() : undefined;
}
