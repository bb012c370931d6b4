import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JSONCodec, NatsConnection } from 'nats';
import { MessageName, Subjects, WorkerRegistered } from '@maas/contracts';
import { startNode, StartedProcess, testNamespace, testNats, testNatsUrl } from '@maas/testing';
import { writeTinyLlamaGguf } from '../../llama-engine/src/testing/tiny-llama';
import { runtimeKeyFor } from '../src/runtime-key';

const MODEL = 'Qwen/Qwen2.5-3B-Instruct';
/** The installation's secret: each runtime demands the key derived from it and its worker id. */
const SECRET = 'launched-worker-key-secret-0123456789';
const keyed = (workerId: string) => ({ 'content-type': 'application/json', authorization: `Bearer ${runtimeKeyFor(SECRET, workerId)}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `maas worker --launch sim-engine|llama-engine` and `--sim-profile`: the runtime as a real process, over real NATS. */
describe('maas worker --launch and --sim-profile', () => {
  const namespace = testNamespace();
  const subjects = new Subjects(namespace);
  let nc: NatsConnection;
  let worker: StartedProcess | undefined;
  const seen: { name: MessageName; at: number; msg: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    nc = await testNats();
    for (const name of ['worker.registered', 'worker.draining', 'worker.deregistered'] as MessageName[]) {
      nc.subscribe(subjects.subject(name), {
        callback: (_e, m) => seen.push({ name, at: Date.now(), msg: JSONCodec<Record<string, unknown>>().decode(m.data) }),
      });
    }
  });

  afterAll(async () => {
    await worker?.stop();
    await nc.close();
  });

  const until = async <T>(check: () => T | undefined, ms: number, what: string): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms\n${worker?.lines.slice(-15).join('\n')}`);
      await sleep(50);
    }
  };
  const events = (name: MessageName) => seen.filter((e) => e.name === name && e.msg.workerId === 'launched-1');

  it('starts the runtime, registers once it is healthy, restarts it after a crash (deregistered meanwhile), drains on SIGTERM and stops it', async () => {
    const env = { NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace, LOG_LEVEL: 'info', MAAS_WORKER_KEY_SECRET: SECRET };
    worker = startNode('dist/cli/main.js', env, [
      'worker',
      '--launch',
      'sim-engine',
      '--model',
      MODEL,
      '--worker-id',
      'launched-1',
      '--vm-id',
      'vm-l',
      '--heartbeat',
      '200ms',
      '--restart-backoff',
      '300ms',
      '--drain-timeout',
      '20s',
      '--',
      '--profile',
      'a100-qwen2.5-3b',
      '--startup-delay',
      '1s',
    ]);
    const firstStart = await worker.waitFor((r) => r.msg === 'runtime started', 30_000, 'the runtime starting');
    const reg = (await until(() => events('worker.registered')[0], 60_000, 'no registration')).msg as unknown as WorkerRegistered;
    // it registers only once the runtime answers healthy: ready at once, with what the profile says
    expect(reg).toMatchObject({
      vmId: 'vm-l',
      state: 'ready',
      hardware: 'gpu',
      runtime: { kind: 'sim-engine' },
      models: [{ id: MODEL, maxContextTokens: 32768 }],
    });
    // the runtime demands the key derived for this worker, which is in no log line
    const hi = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
    const direct = await fetch(`${reg.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: hi,
    });
    expect(direct.status).toBe(401);
    expect((await direct.json()) as unknown).toMatchObject({ error: { type: 'authentication_error', code: 'missing_runtime_key' } });
    const served = await fetch(`${reg.url}/v1/chat/completions`, { method: 'POST', headers: keyed('launched-1'), body: hi });
    expect(served.status).toBe(200);
    expect(worker.lines.join('\n')).toContain('"runtimeAuth":"derived"');
    expect(worker.lines.join('\n')).not.toContain(runtimeKeyFor(SECRET, 'launched-1'));

    // the runtime dies: the worker deregisters, starts it again on the same port and registers again
    const pid = Number(firstStart.pid);
    expect(alive(pid)).toBe(true);
    process.kill(pid, 'SIGKILL');
    await until(() => events('worker.deregistered')[0], 10_000, 'no deregistration after the crash');
    expect(events('worker.deregistered')[0].msg.reason).toBe('replaced');
    const restarted = await worker.waitFor(
      (r) => r.msg === 'runtime started' && Number(r.restarts) === 1,
      20_000,
      'the runtime restarting',
    );
    const again = await until(
      () => events('worker.registered').find((e) => e.at > events('worker.deregistered')[0].at && e.msg.state === 'ready'),
      30_000,
      'no registration after the restart',
    );
    expect((again.msg as unknown as WorkerRegistered).url).toBe(reg.url);

    // a long answer in flight when SIGTERM comes: it finishes, then the worker deregisters and the runtime stops
    const long = fetch(`${reg.url}/v1/chat/completions`, {
      method: 'POST',
      headers: keyed('launched-1'),
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'at length' }], max_tokens: 400, ignore_eos: true }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { usage?: { completion_tokens: number } }, at: Date.now() }));
    await sleep(300);
    worker.child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => worker!.child.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    const done = await long;
    expect(done.status).toBe(200);
    expect(done.body.usage?.completion_tokens).toBe(400);
    const draining = events('worker.draining')[0];
    expect(Number(draining.msg.inFlight)).toBeGreaterThanOrEqual(1);
    const gone = events('worker.deregistered')[1];
    expect(gone.msg.reason).toBe('shutdown');
    expect(gone.at).toBeGreaterThanOrEqual(done.at - 50);
    expect(alive(Number(restarted.pid))).toBe(false);
  });

  it('launches llama-engine on a GGUF file: a real llama.cpp runtime as the child, served and stopped after the drain', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-launch-llama-'));
    const file = path.join(dir, 'tiny.gguf');
    writeTinyLlamaGguf(file);
    try {
      const env = { NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace, LOG_LEVEL: 'info', MAAS_WORKER_KEY_SECRET: SECRET };
      worker = startNode('dist/cli/main.js', env, [
        'worker',
        '--launch',
        'llama-engine',
        '--weights',
        file,
        '--model',
        'open-maas/tiny-llama',
        '--worker-id',
        'launched-llama',
        '--heartbeat',
        '200ms',
        '--',
        '--threads',
        '1',
        '--context',
        '256',
        '--parallel',
        '2',
      ]);
      const started = await worker.waitFor((r) => r.msg === 'runtime started', 30_000, 'llama-engine starting');
      const reg = (
        await until(
          () => seen.find((e) => e.name === 'worker.registered' && e.msg.workerId === 'launched-llama'),
          90_000,
          'no registration of the llama worker',
        )
      ).msg as unknown as WorkerRegistered;
      expect(reg).toMatchObject({
        state: 'ready',
        hardware: 'cpu',
        models: [{ id: 'open-maas/tiny-llama', capabilities: ['chat', 'completion'] }],
      });
      const body = JSON.stringify({
        model: 'open-maas/tiny-llama',
        messages: [{ role: 'user', content: 'what is a cat?' }],
        max_tokens: 4,
        seed: 1,
      });
      const direct = await fetch(`${reg.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(direct.status).toBe(401);
      await direct.arrayBuffer();
      const res = await fetch(`${reg.url}/v1/chat/completions`, { method: 'POST', headers: keyed('launched-llama'), body });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBeGreaterThan(0);
      worker.child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => worker!.child.once('exit', (c) => resolve(c)));
      expect(code).toBe(0);
      expect(seen.some((e) => e.name === 'worker.deregistered' && e.msg.workerId === 'launched-llama' && e.msg.reason === 'shutdown')).toBe(
        true,
      );
      await until(() => (alive(Number(started.pid)) ? undefined : true), 5000, 'llama-engine still running after the worker stopped');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--sim-profile: the simulator in the worker demands the key derived for the worker id it defaults to', async () => {
    worker = startNode(
      'dist/cli/main.js',
      { NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace, LOG_LEVEL: 'info', MAAS_WORKER_KEY_SECRET: SECRET },
      ['worker', '--sim-profile', 'a100-qwen2.5-3b', '--vm-id', 'vm-sim-keyed', '--heartbeat', '200ms'],
    );
    const reg = (
      await until(
        () => seen.find((e) => e.name === 'worker.registered' && e.msg.vmId === 'vm-sim-keyed' && e.msg.state === 'ready'),
        30_000,
        'no ready registration of the simulator',
      )
    ).msg as unknown as WorkerRegistered;
    const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    const direct = await fetch(`${reg.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(direct.status).toBe(401);
    await direct.arrayBuffer();
    const served = await fetch(`${reg.url}/v1/chat/completions`, { method: 'POST', headers: keyed(reg.workerId), body });
    expect(served.status).toBe(200);
    expect(worker.lines.join('\n')).toContain('"runtimeAuth":"derived"');
    expect(worker.lines.join('\n')).not.toContain(runtimeKeyFor(SECRET, reg.workerId));
    worker.child.kill('SIGTERM');
    expect(await new Promise<number | null>((resolve) => worker!.child.once('exit', (c) => resolve(c)))).toBe(0);
  });
});
