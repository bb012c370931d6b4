import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JSONCodec } from 'nats';
import { WorkerRegistered } from '@maas/contracts';
import { projectRoot } from '@maas/platform';
import { startNode, StartedProcess, StartedService } from '@maas/testing';
import { MODEL, Stack, waitUntil } from '../services/gateway/test/support/stack';

const SECRET = 'e2e-worker-key-secret-0123456789abcdef';

/**
 * `maas worker --launch vllm` with a stand-in `vllm` on PATH (the engine simulator behind vLLM's
 * command line and API-key check, e2e/support/vllm-stand-in.ts): the command line is built from the
 * model spec, the runtime demands a key derived from MAAS_WORKER_KEY_SECRET and the worker id, and a
 * gateway with the same secret is answered while one without it is refused.
 */
describe('maas worker --launch vllm: per-worker runtime keys the gateway sends', () => {
  const stack = new Stack({ MAAS_WORKER_KEY_SECRET: SECRET });
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-vllm-bin-'));
  let worker: StartedProcess | undefined;
  let keyless: StartedService | undefined;
  const seen: { name: string; body: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    await stack.start();
    stack.nc.subscribe(stack.subjects.subject('worker.registered'), {
      callback: (_e, m) => seen.push({ name: 'worker.registered', body: JSONCodec<Record<string, unknown>>().decode(m.data) }),
    });
    fs.writeFileSync(
      path.join(bin, 'vllm'),
      `#!/bin/sh\nexec "${process.execPath}" "${path.join(projectRoot(), 'dist', 'e2e', 'support', 'vllm-stand-in.js')}" "$@"\n`,
      { mode: 0o755 },
    );
  });

  afterAll(async () => {
    await worker?.stop();
    await keyless?.stop();
    await stack.stop();
    fs.rmSync(bin, { recursive: true, force: true });
  });

  it('builds the vLLM command line from the model spec, keys the runtime per worker, and only a gateway with the secret is served', async () => {
    worker = startNode(
      'dist/cli/main.js',
      { ...stack.env, PATH: `${bin}:${process.env.PATH}`, MAAS_WORKER_KEY_SECRET: SECRET, LOG_LEVEL: 'info' },
      [
        'worker',
        '--launch',
        'vllm',
        '--model',
        MODEL,
        '--worker-id',
        'vllm-1',
        '--heartbeat',
        '500ms',
        '--tensor-parallel-size',
        '2',
        '--max-model-len',
        '8192',
        '--gpu-memory-utilization',
        '0.85',
        '--priority-scheduling',
        '--',
        '--enable-prefix-caching',
      ],
    );
    const serving = await worker.waitFor((r) => r.event === 'vllm-serving', 30_000, 'the stand-in vLLM serving');
    expect(serving).toMatchObject({
      model: MODEL,
      auth: 'required',
      flags: {
        'served-model-name': MODEL,
        'tensor-parallel-size': '2',
        'max-model-len': '8192',
        'gpu-memory-utilization': '0.85',
        'scheduling-policy': 'priority',
        'enable-prefix-caching': true,
      },
    });
    await worker.waitFor((r) => r.msg === 'worker registered', 30_000, 'the worker registering');
    const reg = (await waitUntil(() => seen.find((e) => e.body.workerId === 'vllm-1'), 10_000, 'the registration on NATS'))
      .body as unknown as WorkerRegistered;
    expect(reg).toMatchObject({
      hardware: 'gpu',
      runtime: { kind: 'vllm' },
      state: 'ready',
      models: [{ id: MODEL, maxContextTokens: 8192 }],
    });
    // the key is in no log line
    expect(worker.lines.join('\n')).toContain('"runtimeAuth":"derived"');
    const { runtimeKeyFor } = await import('@maas/worker-agent');
    expect(worker.lines.join('\n')).not.toContain(runtimeKeyFor(SECRET, 'vllm-1'));

    // the runtime refuses a caller without its key
    const direct = await fetch(`${reg.url}/v1/models`);
    expect(direct.status).toBe(401);

    const key = await stack.createKey({ name: 'vllm' });
    const chat = (gateway: StartedService) =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret}` },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8 }),
      });
    await stack.gateway.waitFor((r) => r.msg === 'worker joined' && r.workerId === 'vllm-1', 20_000, 'the gateway learning vllm-1');
    const served = await chat(stack.gateway);
    expect(served.status).toBe(200);
    expect(((await served.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(8);

    // a gateway that does not share the secret sends no key: the runtime refuses it
    keyless = await stack.startGateway({ MAAS_WORKER_KEY_SECRET: '' });
    // it learns the worker from the router's snapshot at start, or from the worker's next announcement
    await keyless.waitFor(
      (r) => (r.msg === 'worker joined' && r.workerId === 'vllm-1') || (r.msg === 'registry snapshot loaded' && Number(r.workers) >= 1),
      20_000,
      'the second gateway learning vllm-1',
    );
    const refused = await chat(keyless);
    expect(refused.status).not.toBe(200);
    await refused.arrayBuffer();
    await worker.waitFor(
      (r) => r.event === 'vllm-unauthorized' && r.path === '/v1/chat/completions' && r.keyGiven === false,
      10_000,
      'the runtime refusing the keyless gateway',
    );
    // no caller ever presented a wrong key: the gateway with the secret sent the runtime's own
    expect(worker.records().filter((r) => r.event === 'vllm-unauthorized' && r.keyGiven === true)).toEqual([]);

    // SIGTERM: the worker drains, then stops vLLM
    worker.child.kill('SIGTERM');
    await waitUntil(() => worker!.child.exitCode !== null || undefined, 30_000, 'the worker exiting');
    expect(worker.child.exitCode).toBe(0);
    expect(worker.lines.some((l) => l.includes('"msg":"drained"'))).toBe(true);
  });
});
