/** A recognised word with times in seconds from the start of the audio the recogniser was given. */
export interface TimedWord {
  readonly word: string;
  readonly start: number;
  readonly end: number;
  /** Posterior probability from the recogniser, 0..1. */
  readonly confidence: number;
}

/** One utterance: a stretch of speech between pauses, as the recogniser's voice activity detector cut it. */
export interface Utterance {
  readonly words: TimedWord[];
}

const TIMED = /^(\S+) (-?\d+(?:\.\d+)?) (-?\d+(?:\.\d+)?) (-?\d+(?:\.\d+)?)$/;

/** Silence, sentence marks and noise fillers carry no text: `<s>`, `</s>`, `<sil>`, `[NOISE]`, `++UH++`. */
const isFiller = (token: string) => token.startsWith('<') || token.startsWith('[') || token.startsWith('++');

/**
 * pocketsphinx_continuous `-time yes` output: per utterance a hypothesis line, then one
 * "word start end posterior" line per word (alternative pronunciations as `word(2)`).
 */
export function parseSphinxTimes(output: string): Utterance[] {
  const utterances: Utterance[] = [];
  let words: TimedWord[] | undefined;
  const flush = () => {
    if (words && words.length > 0) utterances.push({ words });
    words = undefined;
  };
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const timed = TIMED.exec(line);
    if (!timed) {
      // A hypothesis line opens the next utterance.
      flush();
      words = [];
      continue;
    }
    const token = timed[1];
    if (token === '<s>') {
      if (words && words.length > 0) flush();
      words ??= [];
      continue;
    }
    if (isFiller(token)) continue;
    words ??= [];
    words.push({
      word: token.replace(/\(\d+\)$/, ''),
      start: Number(timed[2]),
      end: Number(timed[3]),
      confidence: Math.min(1, Math.max(0, Number(timed[4]))),
    });
  }
  flush();
  return utterances;
}
