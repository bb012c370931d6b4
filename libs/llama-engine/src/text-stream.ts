/** Turns tokens into text; `lastTokens` are the ones before, which decide a leading space (SentencePiece). */
export type Detokenize = (tokens: readonly number[], lastTokens: readonly number[]) => string;

/** A UTF-8 character spans at most four byte-fallback tokens. */
const MAX_SPLIT_TOKENS = 4;
const REPLACEMENT = '\uFFFD';

/**
 * Streams generated tokens as text, one token at a time, except that tokens ending in half a
 * UTF-8 character wait (up to four) for the rest of it: a stream never shows a broken character
 * that the complete answer would not.
 */
export class TextStream {
  private pending: number[] = [];
  private readonly before: number[];

  constructor(
    private readonly detokenize: Detokenize,
    context: readonly number[] = [],
  ) {
    this.before = context.slice(-MAX_SPLIT_TOKENS * 2);
  }

  push(token: number): string {
    this.pending.push(token);
    const text = this.detokenize(this.pending, this.before);
    if (text.endsWith(REPLACEMENT) && this.pending.length < MAX_SPLIT_TOKENS) return '';
    this.commit();
    return text;
  }

  flush(): string {
    if (this.pending.length === 0) return '';
    const text = this.detokenize(this.pending, this.before);
    this.commit();
    return text;
  }

  private commit(): void {
    this.before.push(...this.pending);
    this.before.splice(0, Math.max(0, this.before.length - MAX_SPLIT_TOKENS * 2));
    this.pending = [];
  }
}
