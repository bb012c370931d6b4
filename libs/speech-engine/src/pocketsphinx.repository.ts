import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runTool } from '@maas/media';
import { parseSphinxTimes, Utterance } from './sphinx-output';
import { encodeWav } from './wav';

/** The speech recogniser as the service sees it: 16 kHz mono samples in, timed utterances out. */
export interface SpeechRecognizer {
  recognize(samples: Int16Array, sampleRate: number, signal?: AbortSignal): Promise<Utterance[]>;
  /** Fails with a one-line reason when the recogniser or its model cannot run here. */
  check(): Promise<void>;
}

export interface PocketsphinxOptions {
  readonly binary?: string;
  /** Acoustic model, language model and dictionary; the Debian en-us model when omitted. */
  readonly hmm?: string;
  readonly lm?: string;
  readonly dict?: string;
}

/** pocketsphinx_continuous (0.8) on one WAV file per call, with word times (`-time yes`). */
export class PocketsphinxRecognizer implements SpeechRecognizer {
  constructor(private readonly options: PocketsphinxOptions = {}) {}

  /** A quarter second of silence, with the recogniser's log on stderr so a failure says why. */
  async check(): Promise<void> {
    await this.recognize(new Int16Array(4000), 16_000, undefined, false);
  }

  async recognize(samples: Int16Array, sampleRate: number, signal?: AbortSignal, quiet = true): Promise<Utterance[]> {
    const dir = await mkdtemp(path.join(tmpdir(), 'maas-speech-'));
    try {
      const file = path.join(dir, 'chunk.wav');
      await writeFile(file, encodeWav(samples, sampleRate));
      const model = (['hmm', 'lm', 'dict'] as const).flatMap((k) => (this.options[k] ? [`-${k}`, this.options[k] as string] : []));
      // -dither: digital silence (zeros) upsets its feature normalisation; measured WER 0.30 → 0.23 on synthesised speech.
      const args = [
        '-infile',
        file,
        ...(quiet ? ['-logfn', '/dev/null'] : []),
        '-time',
        'yes',
        '-dither',
        'yes',
        '-samprate',
        String(sampleRate),
        ...model,
      ];
      const { stdout } = await runTool(this.options.binary ?? 'pocketsphinx_continuous', args, { signal });
      return parseSphinxTimes(stdout.toString('utf8'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
