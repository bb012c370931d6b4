import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root: the nearest folder above this file holding package.json. */
export function repoRoot(from = __dirname): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

/** Writes a benchmark's results to artifacts/bench/<name>.json and returns the path. */
export function writeReport(name: string, data: unknown): string {
  const dir = path.join(repoRoot(), 'artifacts', 'bench');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}
