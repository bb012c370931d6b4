import { Logger } from '@maas/logging';
import {
  ApiError,
  AUDIO_TYPES,
  formatBytes,
  invalidParam,
  JobPool,
  jsonBodyLimit,
  MediaRule,
  modelNotFound,
  readRequestBody,
  Route,
  RuntimeMetrics,
  RuntimeServer,
  sendJson,
  sendText,
  startRuntimeServer,
} from '@maas/media';
import { AudioDecoder, SoxAudioDecoder } from './audio.repository';
import { ChunkSpec } from './chunk-plan';
import { PocketsphinxRecognizer, SpeechRecognizer } from './pocketsphinx.repository';
import { ProgressBoard } from './progress';
import { renderTranscript } from './transcript-format';
import { parseTranscriptionRequest, TranscriptionRequest } from './transcription-request';
import { TranscriptionService } from './transcription-service';
import { TranscriptionUpstream } from './upstream.repository';

export interface SpeechServerOptions {
  /** Served model id (default `pocketsphinx/en-us`; with an upstream, required). */
  readonly model?: string;
  /** Engine jobs at once (recogniser processes, or upstream requests). */
  readonly concurrency: number;
  readonly maxWaiting?: number;
  /** Largest audio file in bytes. */
  readonly maxFileBytes?: number;
  readonly chunks?: ChunkSpec;
  readonly host?: string;
  readonly port?: number;
  readonly logger?: Logger;
  readonly decoder?: AudioDecoder;
  readonly recognizer?: SpeechRecognizer;
  /** Adapter mode: forward to this server instead of recognising locally. */
  readonly upstream?: TranscriptionUpstream;
  /** Model name sent upstream (default: the served id). */
  readonly upstreamModel?: string;
  readonly shutdownGraceMs?: number;
  /** vLLM's --api-key: every path but /health and /metrics then needs `Authorization: Bearer <apiKey>` (else 401). */
  readonly apiKey?: string;
}

export interface SpeechServer extends RuntimeServer {
  readonly model: string;
  readonly pool: JobPool;
}

export const DEFAULT_SPEECH_MODEL = 'pocketsphinx/en-us';
/** 100 MiB: about 55 minutes of 16 kHz mono WAV, or hours of MP3. */
export const DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024;
const LANGUAGES = new Set(['en', 'en-us', 'en_us', 'english']);

/** The speech runtime: OpenAI's `/v1/audio/transcriptions`, progress of long jobs, `/v1/models`, `/health`, `/metrics`. */
export async function startSpeechServer(options: SpeechServerOptions): Promise<SpeechServer> {
  const logger = options.logger ?? new Logger('speech-engine');
  const model = options.model ?? (options.upstream ? undefined : DEFAULT_SPEECH_MODEL);
  if (!model) throw new Error('a served model name is required with an upstream');
  const decoder = options.decoder ?? new SoxAudioDecoder();
  const recognizer = options.recognizer ?? new PocketsphinxRecognizer();
  // Fail at start, not on the first request, when an engine tool or model is missing.
  if (!options.upstream) await Promise.all([decoder.check(), recognizer.check()]);
  const pool = new JobPool(options.concurrency, options.maxWaiting);
  const progress = new ProgressBoard();
  const metrics = new RuntimeMetrics(model, () => pool.load());
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const rule: MediaRule = { kind: 'audio', maxBytes: maxFileBytes, types: AUDIO_TYPES };
  const service = new TranscriptionService({
    decoder,
    recognizer,
    pool,
    progress,
    logger,
    chunks: options.chunks,
  });
  const { upstream } = options;
  const created = Math.floor(Date.now() / 1000);

  const check = (request: TranscriptionRequest) => {
    if (request.model !== undefined && request.model !== model) throw modelNotFound(request.model, [model]);
    if (!upstream && request.language !== undefined && !LANGUAGES.has(request.language.toLowerCase())) {
      throw invalidParam(
        'language',
        `language "${request.language}" is not supported by ${model}; it recognises English (en)`,
        'unsupported_language',
      );
    }
  };

  const routes: Route[] = [
    {
      method: 'GET',
      path: '/health',
      async handle({ res }) {
        if (upstream) {
          // The runtime is only as healthy as the server it forwards to.
          const answer = await upstream.get('/health', 2000).catch(() => undefined);
          if (!answer || answer.status >= 500)
            throw new ApiError(503, `transcription upstream ${upstream.url} is not healthy`, 'server_error', null, 'upstream_unhealthy');
        }
        sendJson(res, 200, { status: 'ok', ...pool.load() });
      },
    },
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
          data: [
            {
              id: model,
              object: 'model',
              created,
              owned_by: upstream ? 'maas-speech-upstream' : 'maas-speech',
              root: model,
              parent: null,
              capabilities: ['transcription'],
              languages: upstream ? [] : ['en'],
            },
          ],
        }),
    },
    {
      method: 'GET',
      path: '/v1/audio/transcriptions/progress',
      handle: ({ res }) => sendJson(res, 200, { object: 'list', data: progress.list() }),
    },
    {
      method: 'GET',
      path: /^\/v1\/audio\/transcriptions\/progress\/(?<id>[\w.:-]+)$/,
      handle({ res, params }) {
        const job = progress.get(params.id);
        if (!job)
          throw new ApiError(
            404,
            `no transcription job "${params.id}" in progress or recently finished`,
            'invalid_request_error',
            null,
            'not_found',
          );
        sendJson(res, 200, job);
      },
    },
    {
      method: 'POST',
      path: '/v1/audio/transcriptions',
      metered: true,
      async handle({ req, res, requestId, signal }) {
        const body = await readRequestBody(req, {
          json: jsonBodyLimit(maxFileBytes),
          multipart: maxFileBytes + 1024 * 1024,
          allows: `an audio file of at most ${formatBytes(maxFileBytes)}`,
        });
        const request = parseTranscriptionRequest(body, rule);
        check(request);
        if (upstream) {
          const answer = await pool.run((s) => upstream.transcribe(request, options.upstreamModel ?? model, s), {
            signal,
            owner: requestId,
          });
          res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': answer.body.length });
          res.end(answer.body);
          return;
        }
        const transcript = await service.transcribe(request.audio, { id: requestId, model, signal });
        metrics.count('maas_speech_audio_seconds_total', 'Seconds of audio transcribed.', transcript.duration);
        const rendered = renderTranscript(transcript, request.responseFormat, request.granularities);
        // Billing for every format, including text, srt and vtt whose bodies cannot carry usage.
        sendText(res, 200, rendered.body, rendered.contentType, { 'x-audio-duration-seconds': String(transcript.duration) });
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
  return { ...server, model, pool };
}
