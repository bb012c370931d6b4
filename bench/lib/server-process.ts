import { ChildProcess, spawn } from 'node:child_process';

export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** SIGTERM, then wait for exit. */
  stop(): Promise<void>;
}

/**
 * Starts a server that prints JSON log lines and waits for the line with `event: readyEvent`
 * carrying its URL (the convention of `maas` server commands).
 */
export function startServerProcess(
  command: string,
  args: readonly string[],
  readyEvent = 'ready',
  timeoutMs = 30000,
): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`server did not report '${readyEvent}' within ${timeoutMs} ms: ${stderr.trim().slice(0, 300)}`));
    }, timeoutMs);
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      let nl = stdout.indexOf('\n');
      while (nl >= 0) {
        const line = stdout.slice(0, nl);
        stdout = stdout.slice(nl + 1);
        nl = stdout.indexOf('\n');
        try {
          const entry = JSON.parse(line) as { event?: string; url?: string };
          if (entry.event === readyEvent && entry.url) {
            clearTimeout(timer);
            resolve({
              url: entry.url,
              child,
              stop: async () => {
                if (child.exitCode === null) child.kill('SIGTERM');
                await exited;
              },
            });
          }
        } catch {
          // not a log line
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with code ${code} before it was ready: ${stderr.trim().slice(0, 300)}`));
    });
  });
}
