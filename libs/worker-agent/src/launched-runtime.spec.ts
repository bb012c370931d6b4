import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnRuntime } from './launched-runtime';

describe('a launched runtime’s environment', () => {
  const saved = { ...process.env };
  let dir: string;

  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runtime-env-'))));
  afterEach(() => {
    process.env = { ...saved };
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is the worker’s, less the runtime-key secret and NATS credentials, plus its own key', async () => {
    Object.assign(process.env, {
      MAAS_WORKER_KEY_SECRET: 'a'.repeat(64),
      NATS_NKEY: '/etc/maas/worker.nk',
      NATS_URL: 'nats://worker:secret@10.0.0.1:4222',
      NATS_PASSWORD: 'secret',
      HF_HOME: '/models/hf',
      CUDA_VISIBLE_DEVICES: '0',
    });
    const out = path.join(dir, 'env.json');
    const runtime = spawnRuntime({
      program: process.execPath,
      args: ['-e', `require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.env))`],
      env: { VLLM_API_KEY: 'runtime-key' },
      kind: 'vllm',
      usesApiKey: true,
    });
    expect(await runtime.exited).toEqual({ code: 0, signal: null });
    const env = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, string>;
    for (const name of ['MAAS_WORKER_KEY_SECRET', 'NATS_NKEY', 'NATS_URL', 'NATS_PASSWORD']) expect(env[name]).toBeUndefined();
    expect(env).toMatchObject({ HF_HOME: '/models/hf', CUDA_VISIBLE_DEVICES: '0', VLLM_API_KEY: 'runtime-key', PATH: process.env.PATH });
  });
});
