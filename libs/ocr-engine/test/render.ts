import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export interface Degradation {
  readonly pointsize: number;
  readonly blur: number;
  /** ImageMagick's Gaussian noise strength (`-attenuate`), seeded so the image is the same every run. */
  readonly noise: number;
}

/**
 * A PNG of `text` as ImageMagick's pango coder lays it out: it shapes Devanagari conjuncts
 * correctly, which `label:` does not.
 */
export function renderText(dir: string, name: string, text: string, font: string, degrade?: Degradation): Buffer {
  const file = path.join(dir, `${name}.png`);
  const effects = degrade ? ['-blur', `0x${degrade.blur}`, '-attenuate', String(degrade.noise), '+noise', 'Gaussian'] : [];
  execFileSync('convert', ['-seed', '7', '-font', font, '-pointsize', String(degrade?.pointsize ?? 28), `pango:${text}`, ...effects, file]);
  return readFileSync(file);
}
