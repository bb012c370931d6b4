import { deflateSync } from 'node:zlib';
import { TranscriptSegment } from './merge';

export type ResponseFormat = 'json' | 'text' | 'srt' | 'verbose_json' | 'vtt';
export const RESPONSE_FORMATS: readonly ResponseFormat[] = ['json', 'text', 'srt', 'verbose_json', 'vtt'];
export type Granularity = 'segment' | 'word';

export interface Transcript {
  /** Whisper's language name for the recognised language. */
  readonly language: string;
  readonly duration: number;
  readonly segments: readonly TranscriptSegment[];
}

export interface RenderedTranscript {
  readonly contentType: string;
  readonly body: string;
}

export const transcriptText = (t: Transcript): string => t.segments.map((s) => s.text).join(' ');

/** `00:01:02,345` (SRT) or `00:01:02.345` (WebVTT). */
export function timestamp(seconds: number, separator: ',' | '.'): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${separator}${pad(ms % 1000, 3)}`;
}

export function toSrt(segments: readonly TranscriptSegment[]): string {
  return segments.map((s, i) => `${i + 1}\n${timestamp(s.start, ',')} --> ${timestamp(s.end, ',')}\n${s.text}\n`).join('\n');
}

export function toVtt(segments: readonly TranscriptSegment[]): string {
  return `WEBVTT\n\n${segments.map((s) => `${timestamp(s.start, '.')} --> ${timestamp(s.end, '.')}\n${s.text}\n`).join('\n')}`;
}

/** Whisper's compression ratio: text bytes over their zlib size (repetitive output scores high). */
function compressionRatio(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length === 0 ? 0 : Math.round((bytes.length / deflateSync(bytes).length) * 1000) / 1000;
}

/** OpenAI's transcription response in the asked format; usage is billed by audio seconds as for whisper-1. */
export function renderTranscript(t: Transcript, format: ResponseFormat, granularities: ReadonlySet<Granularity>): RenderedTranscript {
  const text = transcriptText(t);
  const usage = { type: 'duration', seconds: Math.ceil(t.duration) };
  switch (format) {
    case 'text':
      return { contentType: 'text/plain; charset=utf-8', body: `${text}\n` };
    case 'srt':
      return { contentType: 'application/x-subrip; charset=utf-8', body: toSrt(t.segments) };
    case 'vtt':
      return { contentType: 'text/vtt; charset=utf-8', body: toVtt(t.segments) };
    case 'json':
      return { contentType: 'application/json', body: JSON.stringify({ text, usage }) };
    case 'verbose_json': {
      const segments = t.segments.map((s, id) => ({
        id,
        seek: Math.round(s.start * 100),
        start: s.start,
        end: s.end,
        text: s.text,
        tokens: [] as number[],
        temperature: 0,
        avg_logprob: s.avgLogprob,
        compression_ratio: compressionRatio(s.text),
        // The recogniser's voice activity detector drops non-speech before decoding.
        no_speech_prob: 0,
      }));
      const body = {
        task: 'transcribe',
        language: t.language,
        duration: t.duration,
        text,
        ...(granularities.has('segment') || granularities.size === 0 ? { segments } : {}),
        ...(granularities.has('word')
          ? { words: t.segments.flatMap((s) => s.words.map((w) => ({ word: w.word, start: w.start, end: w.end }))) }
          : {}),
        usage,
      };
      return { contentType: 'application/json', body: JSON.stringify(body) };
    }
  }
}
