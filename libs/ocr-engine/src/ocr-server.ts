import { randomUUID } from 'node:crypto';
import { Logger } from '@maas/logging';
import {
  formatBytes,
  IMAGE_TYPES,
  invalidParam,
  JobPool,
  jsonBodyLimit,
  MediaRule,
  readRequestBody,
  Route,
  RuntimeMetrics,
  RuntimeServer,
  sendJson,
  sendText,
  startRuntimeServer,
} from '@maas/media';
import { OcrModel } from './ocr-models';
import { parseChatOcrRequest, parseOcrRequest } from './ocr-request';
import { OcrService } from './ocr-service';
import { OcrRecognizer, TesseractRecognizer } from './tesseract.repository';

export interface OcrServerOptions {
  readonly models: readonly OcrModel[];
  /** Engine processes at once; CPU-bound, so the number of cores by default. */
  readonly concurrency: number;
  /** Requests allowed to wait for a slot before 503s (default: unbounded, like vLLM). */
  readonly maxWaiting?: number;
  readonly psm?: number;
  /** Largest decoded image in bytes. */
  readonly maxImageBytes?: number;
  /** Largest number of images in one chat request. */
  readonly maxImagesPerChat?: number;
  readonly host?: string;
  readonly port?: number;
  readonly logger?: Logger;
  /** Defaults to Tesseract on the PATH. */
  readonly recognizer?: OcrRecognizer;
  readonly shutdownGraceMs?: number;
  /** vLLM's --api-key: every path but /health and /metrics then needs `Authorization: Bearer <apiKey>` (else 401). */
  readonly apiKey?: string;
}

export interface OcrServer extends RuntimeServer {
  readonly models: readonly OcrModel[];
  readonly pool: JobPool;
}

export const DEFAULT_MAX_IMAGE_BYTES = 20 * 1024 * 1024;

/** The OCR runtime: `/v1/ocr`, `/v1/chat/completions` over images, `/v1/models`, `/health`, `/metrics`. */
export async function startOcrServer(options: OcrServerOptions): Promise<OcrServer> {
  const logger = options.logger ?? new Logger('ocr-engine');
  const recognizer = options.recognizer ?? new TesseractRecognizer();
  const pool = new JobPool(options.concurrency, options.maxWaiting);
  const service = new OcrService(recognizer, pool, {
    models: options.models,
    installed: await recognizer.languages(),
    psm: options.psm ?? 6,
  });
  const metrics = new RuntimeMetrics(options.models[0].id, () => pool.load());
  const maxImageBytes = options.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  const maxImages = options.maxImagesPerChat ?? 8;
  const rule: MediaRule = { kind: 'image', maxBytes: maxImageBytes, types: IMAGE_TYPES };
  const created = Math.floor(Date.now() / 1000);

  const routes: Route[] = [
    { method: 'GET', path: '/health', handle: ({ res }) => sendJson(res, 200, { status: 'ok', ...pool.load() }) },
    {
      method: 'GET',
      path: '/metrics',
      handle: ({ res }) => sendText(res, 200, metrics.render(), 'text/plain; version=0.0.4; charset=utf-8'),
    },
    {
      method: 'GET',
      path: '/v1/models',
      handle: ({ res }) =>
        sendJson(res, 200, {
          object: 'list',
          data: service.models.map((m) => ({
            id: m.id,
            object: 'model',
            created,
            owned_by: 'maas-ocr',
            root: m.id,
            parent: null,
            capabilities: ['ocr', 'chat'],
            languages: m.languages,
          })),
        }),
    },
    {
      method: 'POST',
      path: '/v1/ocr',
      metered: true,
      async handle({ req, res, requestId, signal }) {
        const body = await readRequestBody(req, {
          json: jsonBodyLimit(maxImageBytes),
          multipart: maxImageBytes + 1024 * 1024,
          allows: `an image of at most ${formatBytes(maxImageBytes)}`,
        });
        const result = await service.recognize(parseOcrRequest(body, rule), { requestId, signal });
        metrics.count('maas_ocr_images_total', 'Images read.', 1);
        metrics.count('maas_ocr_characters_total', 'Characters recognised.', result.usage.characters);
        sendJson(res, 200, result);
      },
    },
    {
      method: 'POST',
      path: '/v1/chat/completions',
      metered: true,
      async handle({ req, res, requestId, signal }) {
        const body = await readRequestBody(req, {
          json: jsonBodyLimit(maxImageBytes * maxImages),
          allows: `${maxImages} images of at most ${formatBytes(maxImageBytes)}`,
        });
        const request = parseChatOcrRequest(body.kind === 'json' ? body.json : {}, rule);
        if (request.images.length > maxImages) {
          throw invalidParam('messages', `${request.images.length} images in one message; the limit is ${maxImages}`, 'too_many_images');
        }
        const answer = await service.chat(request, { requestId, signal });
        metrics.count('maas_ocr_images_total', 'Images read.', request.images.length);
        const id = `chatcmpl-${randomUUID().replace(/-/g, '')}`;
        const now = Math.floor(Date.now() / 1000);
        if (!request.stream) {
          sendJson(res, 200, {
            id,
            object: 'chat.completion',
            created: now,
            model: answer.model,
            choices: [{ index: 0, message: { role: 'assistant', content: answer.text }, logprobs: null, finish_reason: 'stop' }],
            usage: answer.usage,
          });
          return;
        }
        // Chat UIs (Open WebUI) ask for a stream: the whole text arrives as one delta.
        const chunk = (delta: object, finish: string | null, usage?: object) =>
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: now, model: answer.model, choices: usage ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`;
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
        res.write(chunk({ role: 'assistant', content: '' }, null));
        res.write(chunk({ content: answer.text }, null));
        res.write(chunk({}, 'stop'));
        if (request.includeUsage) res.write(chunk({}, null, answer.usage));
        res.end('data: [DONE]\n\n');
      },
    },
  ];
  const server = await startRuntimeServer({
    routes,
    host: options.host,
    port: options.port,
    logger,
    metrics,
    shutdownGraceMs: options.shutdownGraceMs,
    apiKey: options.apiKey,
  });
  return { ...server, models: service.models, pool };
}
