import * as fs from 'node:fs';

/**
 * The parts of the platform that come from Debian packages (scripts/install-system-packages.sh names
 * the same parts). A suite that needs one calls `requireSystemPart` first, so a machine without it
 * fails that suite with the reason instead of an ENOENT deep inside a helper.
 */
export const SYSTEM_PARTS = {
  'saml-idp': {
    label: 'SAML sign-in (SimpleSAMLphp development IdP)',
    commands: ['php', 'openssl'],
    files: ['/usr/share/simplesamlphp/www'],
  },
  chromium: { label: 'browser tests (Chromium)', commands: ['chromium'], files: [] },
  ocr: { label: 'OCR runtime (Tesseract, ImageMagick)', commands: ['tesseract', 'convert'], files: [] },
  speech: { label: 'speech runtime (pocketsphinx, sox, espeak-ng)', commands: ['pocketsphinx_continuous', 'sox', 'espeak-ng'], files: [] },
  slurm: { label: 'Slurm capacity provider (slurm-wlm, munge)', commands: ['slurmctld', 'slurmd', 'sbatch', 'munged'], files: [] },
  prometheus: { label: 'metrics (Prometheus and promtool)', commands: ['prometheus', 'promtool'], files: [] },
  compose: { label: 'compose file validation (docker-compose v1)', commands: ['docker-compose'], files: [] },
} as const;

export type SystemPart = keyof typeof SYSTEM_PARTS;

function onPath(command: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => d && fs.existsSync(`${d}/${command}`));
}

/** What of a part is missing on this machine (empty when all there). */
export function missingOf(part: SystemPart): string[] {
  const { commands, files } = SYSTEM_PARTS[part];
  return [...commands.filter((c) => !onPath(c)), ...files.filter((f) => !fs.existsSync(f))];
}

/** Throws a one-line reason when a part this suite needs is not installed. */
export function requireSystemPart(...parts: SystemPart[]): void {
  for (const part of parts) {
    const missing = missingOf(part);
    if (missing.length) {
      throw new Error(
        `${SYSTEM_PARTS[part].label} is not installed (missing ${missing.join(', ')}): run npm test as root, which installs it, or sudo bash scripts/install-system-packages.sh`,
      );
    }
  }
}
