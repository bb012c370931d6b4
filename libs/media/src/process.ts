import { spawn } from 'node:child_process';
import { JobCancelled } from './api-error';

export interface ProcessOptions {
  /** Kills the child (SIGKILL) when it fires: the client went away. */
  readonly signal?: AbortSignal;
  readonly stdin?: Buffer;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export interface ProcessResult {
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Error of a tool that could not run or failed; the message names the tool and its last words. */
export class ToolError extends Error {
  constructor(
    message: string,
    /** The exit code, when the tool ran and failed. */
    readonly exitCode?: number,
  ) {
    super(message);
  }
}

/** Runs one engine tool to completion, collecting its output; a non-zero exit is a ToolError. */
export function runTool(file: string, args: readonly string[], options: ProcessOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new JobCancelled(String(options.signal.reason ?? 'cancelled')));
      return;
    }
    const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let cancelled = false;
    const onAbort = () => {
      cancelled = true;
      child.kill('SIGKILL');
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    let stderrBytes = 0;
    child.stderr.on('data', (chunk: Buffer) => {
      // Only the tail matters for an error message; tools can be chatty.
      stderr.push(chunk);
      stderrBytes += chunk.length;
      while (stderrBytes > 64 * 1024 && stderr.length > 1) stderrBytes -= (stderr.shift() as Buffer).length;
    });
    child.stdin.on('error', () => undefined); // EPIPE when the tool exits before reading everything
    child.once('error', (err: NodeJS.ErrnoException) => {
      options.signal?.removeEventListener('abort', onAbort);
      reject(
        err.code === 'ENOENT'
          ? new ToolError(`${file} is not installed (run scripts/install-system-packages.sh)`)
          : new ToolError(`${file}: ${err.message}`),
      );
    });
    child.once('close', (code, signal) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (cancelled) {
        reject(new JobCancelled(String(options.signal?.reason ?? 'cancelled')));
        return;
      }
      const errText = Buffer.concat(stderr).toString('utf8');
      if (code !== 0) {
        const last = errText.trim().split('\n').filter(Boolean).slice(-2).join(' | ');
        reject(
          new ToolError(
            `${file} ${code === null ? `was killed by ${signal}` : `exited with code ${code}`}${last ? `: ${last}` : ''}`,
            code ?? undefined,
          ),
        );
        return;
      }
      resolve({ stdout: Buffer.concat(stdout), stderr: errText });
    });
    child.stdin.end(options.stdin ?? Buffer.alloc(0));
  });
}
