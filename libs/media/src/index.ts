/**
 * @maas/media — what the media runtimes (OCR, speech) share: one convention for binaries in the API
 * and the small engine-server machinery around a CPU-bound tool.
 *
 * Binaries: JSON fields carry raw base64 (standard or URL-safe, line breaks allowed) or a
 * `data:<mime>;base64,` URL; multipart where OpenAI's API uses it. The type is sniffed from the
 * bytes (PNG/JPEG/TIFF/WebP/GIF/BMP; WAV/FLAC/OGG/MP3), never taken from the declaration. Too large
 * is a 413 naming the field, bad base64 or an unsupported type a 400 naming it; every error is
 * OpenAI-shaped: `{"error":{"message","type","param","code"}}`.
 *
 * Serving: `startRuntimeServer` (routes, cancellation when the client disconnects, graceful close),
 * `JobPool` (bounded slots, per-request round-robin queues, vLLM-style running/waiting load),
 * `RuntimeMetrics` (Prometheus text with vLLM's gauge names), `runTool` (a child process that is
 * killed when its job is cancelled).
 */
export { ApiError, JobCancelled, invalidParam, isCancellation, modelNotFound, tooLarge, UnreadableMedia } from './api-error';
export { AUDIO_TYPES, IMAGE_TYPES, sniffMediaType } from './media-type';
export type { MediaKind, MediaType } from './media-type';
export { base64DecodedLength, checkMedia, decodeMediaField, formatBytes, jsonBodyLimit } from './binary-input';
export type { DecodedMedia, MediaRule } from './binary-input';
export { asBodyBytes, FormBody, parseJsonObject, parseMultipart, readBody, readRequestBody } from './http-body';
export type { BodyLimits, FormFile, RequestBody } from './http-body';
export { JobPool } from './job-pool';
export type { Job, JobOptions, PoolLoad } from './job-pool';
export { runTool, ToolError } from './process';
export type { ProcessOptions, ProcessResult } from './process';
export { characterErrorRate, editDistance, wordErrorRate } from './error-rate';
export { LATENCY_BUCKETS, RuntimeMetrics } from './runtime-metrics';
export { sendJson, sendText, startRuntimeServer, toApiError } from './runtime-server';
export type { Route, RouteContext, RuntimeServer, RuntimeServerOptions } from './runtime-server';
