import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { projectRoot } from '@maas/platform';

export interface StartedProcess {
  child: ChildProcess;
  /** Every line the process wrote to stdout or stderr, in order. */
  lines: string[];
  /** Parsed JSON log records among the lines. */
  records(): Record<string, unknown>[];
  /** Resolves with the first record matching `predicate` (already logged or logged later). */
  waitFor(predicate: (r: Record<string, unknown>) => boolean, timeoutMs?: number, what?: string): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  /** A command the node process runs under, e.g. `['ip', 'netns', 'exec', 'host-a']` (it must exec its arguments). */
  prefix?: string[];
}

/**
 * Runs `node <script>` from dist/ with extra environment, capturing its structured log lines.
 * `MAAS_CHILD_NODE_ARGS` (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) adds node flags to every process
 * started this way, for profiling a benchmark's services (node refuses such flags in NODE_OPTIONS).
 */
export function startNode(script: string, env: Record<string, string>, args: string[] = [], options: StartOptions = {}): StartedProcess {
  const root = projectRoot();
  const nodeArgs = (process.env.MAAS_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const [command, ...commandArgs] = [...(options.prefix ?? []), process.execPath, ...nodeArgs, path.join(root, script), ...args];
  const child = spawn(command, commandArgs, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { predicate: (r: Record<string, unknown>) => boolean; resolve: (r: Record<string, unknown>) => void }[] = [];
  const parse = (line: string): Record<string, unknown> | undefined => {
    try {
      const v = JSON.parse(line);
      return v && typeof v === 'object' ? v : undefined;
    } catch {
      return undefined;
    }
  };
  const onData = (buffer: { rest: string }) => (chunk: Buffer) => {
    const text = buffer.rest + chunk.toString('utf8');
    const parts = text.split('\n');
    buffer.rest = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      const record = parse(line);
      if (!record) continue;
      for (const w of [...waiters]) {
        if (w.predicate(record)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(record);
        }
      }
    }
  };
  child.stdout!.on('data', onData({ rest: '' }));
  child.stderr!.on('data', onData({ rest: '' }));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  return {
    child,
    lines,
    records: () => lines.map(parse).filter((r): r is Record<string, unknown> => !!r),
    waitFor(predicate, timeoutMs = 30_000, what = 'log record') {
      const existing = lines.map(parse).find((r) => r && predicate(r));
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`${script}: no ${what} within ${timeoutMs} ms; last lines:\n${lines.slice(-15).join('\n')}`));
        }, timeoutMs);
        const waiter = {
          predicate,
          resolve: (r: Record<string, unknown>) => {
            clearTimeout(timer);
            resolve(r);
          },
        };
        waiters.push(waiter);
        void exited.then((code) => {
          if (waiters.includes(waiter)) {
            clearTimeout(timer);
            reject(new Error(`${script} exited with ${code} before ${what}; last lines:\n${lines.slice(-15).join('\n')}`));
          }
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface StartedService extends StartedProcess {
  url: string;
}

/** Starts one platform service from dist/ on a free port and waits for its `ready` line. */
export async function startService(name: string, env: Record<string, string>, options: StartOptions = {}): Promise<StartedService> {
  const portVar = `${name.toUpperCase().replace(/-/g, '_')}_PORT`;
  const proc = startNode(`dist/services/${name}/src/main.js`, { [portVar]: '0', ...env }, [], options);
  const ready = await proc.waitFor((r) => r.msg === 'ready', 60_000, `"ready" line of ${name}`);
  return { ...proc, url: String(ready.url) };
}
