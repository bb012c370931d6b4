/**
 * Reads a V8 CPU profile (`node --cpu-prof`, e.g. every service of a benchmark through
 * `MAAS_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`) and tells where the time went: self
 * time by function, time by package or file, and inclusive time (a function with all it calls,
 * counted once however deep it recurses). Samples are wall time while the thread was not idle, so
 * on a loaded machine every entry is stretched alike: read shares, not absolute times.
 *
 * Usage: node scripts/run.js bench/lib/cpu-profile.ts FILE.cpuprofile [--top N] [--match REGEX]
 */
import * as fs from 'node:fs';

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  /** Sampled time, ms, the idle thread left out. */
  readonly busyMs: number;
  /** Self time (ms) by function, `name file:line`, largest first. */
  readonly self: readonly [string, number][];
  /** Self time (ms) by package (`node_modules/<name>`), node built-in module, or the repository's file. */
  readonly byArea: readonly [string, number][];
  /** Inclusive time (ms) by function, largest first. */
  readonly inclusive: readonly [string, number][];
}

const IDLE = '(idle)';

/** `name file:line`, with paths shortened to the package or the repository's file. */
export function frameName(node: CpuProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  if (!url) return functionName; // (garbage collector), (program), native calls such as writev
  const file = url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/(node_modules\/)/, '$1')
    .replace(/^.*\/dist\//, '');
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

function areaOf(node: CpuProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) return functionName; // (garbage collector), (program), native calls such as writev
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '').replace(/^.*\/dist\//, '');
}

const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);

export function summarise(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const self = new Map<string, number>();
  const byArea = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === IDLE) continue;
    busyUs += us;
    const name = frameName(node);
    self.set(name, (self.get(name) ?? 0) + us / 1000);
    const area = areaOf(node);
    byArea.set(area, (byArea.get(area) ?? 0) + us / 1000);
  }
  // Inclusive: each node's subtree, added to its function unless an ancestor is the same function.
  const open = new Set<string>();
  const walk = (id: number): number => {
    const node = byId.get(id)!;
    const name = frameName(node);
    let us = node.callFrame.functionName === IDLE ? 0 : (selfUs.get(id) ?? 0);
    const outermost = !open.has(name);
    if (outermost) open.add(name);
    for (const child of node.children ?? []) us += walk(child);
    if (outermost) {
      open.delete(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us / 1000);
    }
    return us;
  };
  if (profile.nodes.length > 0) walk(profile.nodes[0].id);
  inclusive.delete(frameName(profile.nodes[0]));
  return { busyMs: busyUs / 1000, self: sorted(self), byArea: sorted(byArea), inclusive: sorted(inclusive) };
}

function render(title: string, rows: readonly [string, number][], busyMs: number, top: number): string {
  const lines = rows
    .slice(0, top)
    .map(([name, ms]) => `${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / busyMs).toFixed(1).padStart(5)}%  ${name}`);
  return [`${title}`, ...lines].join('\n');
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((a, i) => !a.startsWith('--') && !['--top', '--match'].includes(args[i - 1]));
  if (!file || args.includes('--help') || args.includes('-h')) {
    process.stdout.write('usage: node scripts/run.js bench/lib/cpu-profile.ts FILE.cpuprofile [--top N] [--match REGEX]\n');
    process.exit(file ? 0 : 2);
  }
  const at = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  const top = Number(at('--top') ?? 30);
  const match = new RegExp(at('--match') ?? '.');
  const s = summarise(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile);
  const only = (rows: readonly [string, number][]) => rows.filter(([name]) => match.test(name));
  process.stdout.write(
    [
      `${file}: ${(s.busyMs / 1000).toFixed(2)} s busy`,
      render('self time by function', only(s.self), s.busyMs, top),
      render('self time by package or file', s.byArea, s.busyMs, Math.min(top, 20)),
      render('inclusive time by function', only(s.inclusive), s.busyMs, top),
    ].join('\n\n') + '\n',
  );
}

// Run as a script (scripts/run.js passes the .ts entry as argv[1]); imported by its tests, it does nothing.
if (require.main === module || process.argv[1]?.replace(/\\/g, '/').endsWith('bench/lib/cpu-profile.ts')) main();
