import { AudioChunk } from './chunk-plan';
import { TimedWord, Utterance } from './sphinx-output';

export interface TranscriptSegment {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly words: TimedWord[];
  /** Mean natural log of the word posteriors (whisper's avg_logprob, roughly). */
  readonly avgLogprob: number;
}

export interface ChunkTranscript {
  readonly chunk: AudioChunk;
  /** Times relative to the chunk's start. */
  readonly utterances: readonly Utterance[];
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/**
 * Chunk transcripts on one timeline: each word is kept by the chunk whose keep window holds its
 * midpoint, so audio two chunks share is transcribed once; a word repeated right across a cut
 * (heard by both sides) is kept once.
 */
export function mergeChunkTranscripts(chunks: readonly ChunkTranscript[]): TranscriptSegment[] {
  const segments: TranscriptSegment[] = [];
  let last: TimedWord | undefined;
  for (const { chunk, utterances } of [...chunks].sort((a, b) => a.chunk.start - b.chunk.start)) {
    for (const utterance of utterances) {
      const words: TimedWord[] = [];
      for (const w of utterance.words) {
        const word = { ...w, start: round(w.start + chunk.start), end: round(w.end + chunk.start) };
        const mid = (word.start + word.end) / 2;
        if (mid < chunk.keepFrom || mid >= chunk.keepTo) continue;
        if (last && word.word === last.word && word.start < last.end + 0.15) continue;
        words.push(word);
        last = word;
      }
      if (words.length === 0) continue;
      const avgLogprob = words.reduce((sum, w) => sum + Math.log(Math.max(w.confidence, 1e-6)), 0) / words.length;
      segments.push({
        start: words[0].start,
        end: words[words.length - 1].end,
        text: words.map((w) => w.word).join(' '),
        words,
        avgLogprob: round(avgLogprob),
      });
    }
  }
  return segments;
}
