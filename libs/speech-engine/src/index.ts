/**
 * @maas/speech-engine — the speech runtime (`maas speech-engine`): pocketsphinx (or an upstream
 * whisper server) behind OpenAI's transcription API, registered by a model worker like vLLM.
 *
 * - `POST /v1/audio/transcriptions`: OpenAI's multipart form (`file`, `model`, `language`, `prompt`,
 *   `response_format` json|text|srt|verbose_json|vtt, `temperature`, `timestamp_granularities[]`)
 *   or the same fields as JSON with `file` base64 / a data: URL. Audio is decoded by sox to 16 kHz
 *   mono, cut into ~30 s chunks at pauses (2 s overlap where nobody pauses; each chunk also hears
 *   the 5 s before it to adapt, words there dropped), recognised chunk by chunk on a bounded pool
 *   and merged on one timeline. json/verbose_json carry
 *   `usage: {type: "duration", seconds}`; every format carries `x-audio-duration-seconds`.
 * - Long jobs: send `X-Request-Id: ID` and poll `GET /v1/audio/transcriptions/progress/ID` (or the
 *   list without ID): status, duration_seconds, chunks_total, chunks_done, percent; log lines too.
 * - `GET /v1/models`, `GET /health`, `GET /metrics` (vLLM's running/waiting gauges).
 * - Adapter mode (`upstream`): the same API forwarded to an OpenAI-compatible transcription server.
 */
export { SAMPLE_RATE, SoxAudioDecoder } from './audio.repository';
export type { AudioDecoder } from './audio.repository';
export { DEFAULT_CHUNK_SPEC, frameLevels, pauseThreshold, planChunks } from './chunk-plan';
export type { AudioChunk, ChunkSpec } from './chunk-plan';
export { mergeChunkTranscripts } from './merge';
export type { ChunkTranscript, TranscriptSegment } from './merge';
export { PocketsphinxRecognizer } from './pocketsphinx.repository';
export type { PocketsphinxOptions, SpeechRecognizer } from './pocketsphinx.repository';
export { ProgressBoard } from './progress';
export type { JobProgress, JobStatus } from './progress';
export { parseSphinxTimes } from './sphinx-output';
export type { TimedWord, Utterance } from './sphinx-output';
export { RESPONSE_FORMATS, renderTranscript, timestamp, toSrt, toVtt, transcriptText } from './transcript-format';
export type { Granularity, RenderedTranscript, ResponseFormat, Transcript } from './transcript-format';
export { parseTranscriptionRequest } from './transcription-request';
export type { TranscriptionRequest } from './transcription-request';
export { TranscriptionService } from './transcription-service';
export type { TranscriptionDeps, TranscriptionJob } from './transcription-service';
export { OpenAiTranscriptionUpstream } from './upstream.repository';
export type { TranscriptionUpstream, UpstreamAnswer, UpstreamOptions } from './upstream.repository';
export { encodeWav, pcm16FromBytes } from './wav';
export { DEFAULT_MAX_FILE_BYTES, DEFAULT_SPEECH_MODEL, startSpeechServer } from './speech-server';
export type { SpeechServer, SpeechServerOptions } from './speech-server';
