import { setMaxListeners } from 'node:events';
import { Logger } from '@maas/logging';
import { DecodedMedia, invalidParam, isCancellation, JobCancelled, JobPool, UnreadableMedia } from '@maas/media';
import { SAMPLE_RATE, AudioDecoder } from './audio.repository';
import { ChunkSpec, DEFAULT_CHUNK_SPEC, frameLevels, planChunks } from './chunk-plan';
import { mergeChunkTranscripts } from './merge';
import { SpeechRecognizer } from './pocketsphinx.repository';
import { ProgressBoard } from './progress';
import { Transcript } from './transcript-format';

export interface TranscriptionJob {
  readonly id: string;
  readonly model: string;
  readonly signal?: AbortSignal;
}

export interface TranscriptionDeps {
  readonly decoder: AudioDecoder;
  readonly recognizer: SpeechRecognizer;
  readonly pool: JobPool;
  readonly progress: ProgressBoard;
  readonly logger: Logger;
  readonly chunks?: ChunkSpec;
  /** Whisper's name of the language the recogniser knows. */
  readonly language?: string;
}

/**
 * Long recordings: decode to 16 kHz mono, cut into ~30 s chunks at pauses, recognise the chunks on
 * the shared pool (parallel, rotating with other requests), and merge them on one timeline.
 */
export class TranscriptionService {
  private readonly spec: ChunkSpec;

  constructor(private readonly deps: TranscriptionDeps) {
    this.spec = deps.chunks ?? DEFAULT_CHUNK_SPEC;
  }

  async transcribe(audio: DecodedMedia, job: TranscriptionJob): Promise<Transcript> {
    const { pool, progress, logger } = this.deps;
    // One failed chunk stops its siblings; the client's disconnect stops them all.
    const local = new AbortController();
    // Every chunk of an hour-long recording listens on this one signal.
    setMaxListeners(0, local.signal);
    const onAbort = () => local.abort(job.signal?.reason ?? 'cancelled');
    job.signal?.addEventListener('abort', onAbort, { once: true });
    const run = <T>(work: (signal: AbortSignal) => Promise<T>) => pool.run(work, { signal: local.signal, owner: job.id });
    progress.start(job.id, job.model);
    try {
      const samples = await run((signal) => {
        progress.decoding(job.id);
        return this.deps.decoder.decode(audio.bytes, audio.type, signal);
      }).catch((err: unknown) => {
        throw err instanceof UnreadableMedia ? invalidParam('file', `\`file\`: ${err.message}`, 'invalid_audio') : err;
      });
      const duration = Math.round((samples.length / SAMPLE_RATE) * 1000) / 1000;
      // Nothing to recognise in a blip; the recogniser refuses empty files.
      const chunks = duration < 0.1 ? [] : planChunks(frameLevels(samples, SAMPLE_RATE), this.spec);
      progress.planned(job.id, duration, chunks.length);
      if (chunks.length > 1)
        logger.info('transcription planned', {
          request_id: job.id,
          audio_seconds: duration,
          chunks: chunks.length,
          pause_cuts: chunks.filter((c) => c.cut === 'pause').length,
        });
      const transcripts = await Promise.all(
        chunks.map(async (chunk) => {
          try {
            const from = Math.round(chunk.start * SAMPLE_RATE);
            const to = Math.min(samples.length, Math.round(chunk.end * SAMPLE_RATE));
            const utterances = await run((signal) => this.deps.recognizer.recognize(samples.subarray(from, to), SAMPLE_RATE, signal));
            const state = progress.chunkDone(job.id);
            if (chunks.length > 1 && state) {
              logger.info('transcription progress', {
                request_id: job.id,
                percent: state.percent,
                chunks_done: state.chunks_done,
                chunks_total: state.chunks_total,
                audio_seconds: duration,
              });
            }
            return { chunk, utterances };
          } catch (err) {
            local.abort(err instanceof Error ? err.message : String(err));
            throw err;
          }
        }),
      );
      progress.finish(job.id, 'completed');
      return { language: this.deps.language ?? 'english', duration, segments: mergeChunkTranscripts(transcripts) };
    } catch (err) {
      const cancelled = isCancellation(err) || job.signal?.aborted;
      progress.finish(job.id, cancelled ? 'cancelled' : 'failed');
      throw cancelled && !isCancellation(err) ? new JobCancelled(String(job.signal?.reason)) : err;
    } finally {
      job.signal?.removeEventListener('abort', onAbort);
    }
  }
}
