import * as fs from 'node:fs';
import * as os from 'node:os';

/** CPU ticks (utime + stime) and resident memory of one process, from /proc. */
export function readProc(pid: number): { ticks: number; rssBytes: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may hold blanks, so fields are counted after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    return { ticks, rssBytes: rss ? Number(rss[1]) * 1024 : Number.NaN };
  } catch {
    return undefined;
  }
}

/** Kernel clock ticks per second (USER_HZ): 100 on Linux. */
const TICKS_PER_SECOND = 100;

export interface ProcSample {
  readonly at: number;
  readonly ticks: number;
  readonly rssBytes: number;
}

/**
 * Samples named processes once per interval. CPU over a window is the ticks spent in it over its
 * wall time (a fraction of one core); ticks are 10 ms, so short windows are coarse.
 */
export class ProcSampler {
  private readonly samples = new Map<string, ProcSample[]>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly pids: ReadonlyMap<string, number>) {
    for (const name of pids.keys()) this.samples.set(name, []);
  }

  start(everyMs = 1000): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  private sample(): void {
    const at = Date.now();
    for (const [name, pid] of this.pids) {
      const r = readProc(pid);
      if (r) this.samples.get(name)!.push({ at, ...r });
    }
  }

  names(): string[] {
    return [...this.pids.keys()];
  }

  /** Fraction of one core the process used between `from` and `to` (ms), from the samples nearest inside. */
  cpu(name: string, from = 0, to = Number.POSITIVE_INFINITY): number {
    const inside = (this.samples.get(name) ?? []).filter((s) => s.at >= from && s.at <= to);
    if (inside.length < 2) return Number.NaN;
    const a = inside[0];
    const b = inside[inside.length - 1];
    return (b.ticks - a.ticks) / TICKS_PER_SECOND / ((b.at - a.at) / 1000);
  }

  peakRss(name: string, from = 0, to = Number.POSITIVE_INFINITY): number {
    const rss = (this.samples.get(name) ?? []).filter((s) => s.at >= from && s.at <= to).map((s) => s.rssBytes);
    return rss.length ? Math.max(...rss) : Number.NaN;
  }
}

/** The one-minute load average, for the report: the machine is shared. */
export const loadAverage = (): number => os.loadavg()[0];
