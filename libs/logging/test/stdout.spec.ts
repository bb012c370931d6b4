import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { projectRoot } from '@maas/platform';

// The stdout destination is asynchronous: these run the built logger in a real process to prove a line
// shows up while the process keeps running, and that nothing queued is lost when it exits or is stopped.
const LOGGING = path.join(projectRoot(), 'dist/libs/logging/src/index.js');

function run(body: string, env: Record<string, string> = {}) {
  const script = `const { Logger } = require(${JSON.stringify(LOGGING)});\nconst log = new Logger('probe', process.env.LOG_LEVEL || 'info');\n${body}`;
  const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const seen: { text: string; resolve: () => void }[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
    for (const w of [...seen])
      if (out.includes(w.text)) {
        seen.splice(seen.indexOf(w), 1);
        w.resolve();
      }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exited,
    lines: () =>
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    waitFor: (text: string) => new Promise<void>((resolve) => (out.includes(text) ? resolve() : seen.push({ text, resolve }))),
  };
}

describe('Logger on stdout', () => {
  it('writes a line promptly while the process keeps running', async () => {
    const p = run(`log.info('ready', { url: 'http://127.0.0.1:1' }); setInterval(() => undefined, 1000);`);
    try {
      const started = Date.now();
      await p.waitFor('"msg":"ready"');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(p.child.exitCode).toBeNull();
      expect(p.lines()[0]).toMatchObject({ level: 'info', service: 'probe', msg: 'ready', url: 'http://127.0.0.1:1' });
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('loses no line when the process exits straight after a burst', async () => {
    const p = run(`for (let i = 0; i < 20000; i++) log.info('line', { i, pad: 'x'.repeat(100) }); process.exit(3);`);
    expect(await p.exited).toEqual({ code: 3, signal: null });
    const lines = p.lines();
    expect(lines).toHaveLength(20000);
    expect(lines[19999].i).toBe(19999);
  });

  it('on SIGTERM with no handler of its own: writes what is queued, then dies of the signal', async () => {
    const p = run(
      `process.on('SIGUSR2', () => { for (let i = 0; i < 20000; i++) log.info('line', { i, pad: 'x'.repeat(100) }); process.kill(process.pid, 'SIGTERM'); }); log.info('ready'); setInterval(() => undefined, 1000);`,
    );
    await p.waitFor('"msg":"ready"');
    p.child.kill('SIGUSR2');
    expect(await p.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(p.lines().filter((l) => l.msg === 'line')).toHaveLength(20000);
  });

  it("leaves a service's own SIGTERM handling alone", async () => {
    const p = run(
      `process.once('SIGTERM', () => setTimeout(() => { log.info('stopped'); process.exit(0); }, 200)); log.info('ready'); setInterval(() => undefined, 1000);`,
    );
    await p.waitFor('"msg":"ready"');
    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.lines().map((l) => l.msg)).toEqual(['ready', 'stopped']);
  });

  it('honours LOG_LEVEL=warn and LOG_LEVEL=silent', async () => {
    const body = `log.debug('d'); log.info('i'); log.warn('w'); log.error('e');`;
    const warn = run(body, { LOG_LEVEL: 'warn' });
    const silent = run(body, { LOG_LEVEL: 'silent' });
    await Promise.all([warn.exited, silent.exited]);
    expect(warn.lines().map((l) => l.msg)).toEqual(['w', 'e']);
    expect(silent.lines()).toEqual([]);
  });
});
