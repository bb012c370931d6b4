import { AudioChunk } from './chunk-plan';
import { mergeChunkTranscripts } from './merge';

const chunk = (index: number, start: number, end: number, keepFrom: number, keepTo: number): AudioChunk => ({
  index,
  start,
  end,
  keepFrom,
  keepTo,
  cut: 'overlap',
});
const w = (word: string, start: number, end: number, confidence = 1) => ({ word, start, end, confidence });

describe('mergeChunkTranscripts', () => {
  it('puts chunk times on the recording timeline', () => {
    const segments = mergeChunkTranscripts([
      { chunk: chunk(1, 30, 60, 30, 60), utterances: [{ words: [w('second', 1, 1.5)] }] },
      { chunk: chunk(0, 0, 30, 0, 30), utterances: [{ words: [w('first', 2, 2.4, Math.exp(-1)), w('one', 2.5, 2.9, Math.exp(-3))] }] },
    ]);
    expect(segments).toEqual([
      {
        start: 2,
        end: 2.9,
        text: 'first one',
        words: [w('first', 2, 2.4, Math.exp(-1)), w('one', 2.5, 2.9, Math.exp(-3))],
        avgLogprob: -2,
      },
      { start: 31, end: 31.5, text: 'second', words: [w('second', 31, 31.5)], avgLogprob: 0 },
    ]);
  });

  it('keeps each word of an overlap once, by the chunk that owns its midpoint', () => {
    // Chunk 0 covers 0–31, chunk 1 covers 29–60; the cut is at 30.
    const segments = mergeChunkTranscripts([
      {
        chunk: chunk(0, 0, 31, 0, 30),
        utterances: [{ words: [w('we', 28.9, 29.3), w('need', 29.4, 29.8), w('more', 29.85, 30.3), w('ti', 30.4, 31)] }],
      },
      { chunk: chunk(1, 29, 60, 30, 60), utterances: [{ words: [w('knee', 0.4, 0.8), w('more', 0.85, 1.3), w('time', 1.4, 1.9)] }] },
    ]);
    expect(segments.map((s) => s.text)).toEqual(['we need', 'more time']);
  });

  it('drops a word heard on both sides of a cut', () => {
    const segments = mergeChunkTranscripts([
      { chunk: chunk(0, 0, 31, 0, 30), utterances: [{ words: [w('door', 29.5, 29.95)] }] },
      { chunk: chunk(1, 29, 60, 30, 60), utterances: [{ words: [w('door', 1.0, 1.2), w('please', 1.3, 1.8)] }] },
    ]);
    expect(segments.map((s) => s.text)).toEqual(['door', 'please']);
  });
});
