import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/** espeak-ng's Klatt voice at 140 words per minute: the voice pocketsphinx's en-us model reads best (measured). */
export function speak(dir: string, name: string, text: string): string {
  const file = path.join(dir, `${name}.wav`);
  execFileSync('espeak-ng', ['-v', 'en-us+klatt', '-s', '140', '-w', file, text]);
  return file;
}

/** Files joined with `gapSeconds` of digital silence between them; no dither (-D), so every run makes the same file. */
export function concatenate(dir: string, name: string, files: readonly string[], gapSeconds: number): string {
  const gap = path.join(dir, `gap-${name}.wav`);
  const out = path.join(dir, `${name}.wav`);
  execFileSync('sox', ['-D', '-n', '-r', '22050', '-c', '1', '-b', '16', gap, 'trim', '0', String(gapSeconds)]);
  execFileSync('sox', ['-D', ...files.flatMap((f) => [f, gap]), out]);
  return out;
}

/** The same audio in another container (flac, ogg, mp3), as sox writes it. */
export function convert(file: string, extension: string): string {
  const out = file.replace(/\.wav$/, `.${extension}`);
  execFileSync('sox', ['-D', file, out]);
  return out;
}
