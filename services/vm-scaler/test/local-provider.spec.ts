import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CapacityEvent } from '@maas/scaling';
import { systemClock } from '@maas/platform';
import { LocalCapacityProvider, LocalProviderOptions } from '../src/repositories/providers/local.provider';

/**
 * A stand-in for `maas worker`: logs its arguments, drains for a while on the first SIGTERM, and
 * exits 3 on a second one (which would cut a real worker's drain short).
 */
const FAKE_WORKER = `
const mode = process.env.FAKE_MODE;
console.log(JSON.stringify({ msg: 'args', args: process.argv.slice(1) }));
if (mode === 'env') console.log(JSON.stringify({ msg: 'env', env: process.env }));
if (mode === 'crash') { console.log(JSON.stringify({ msg: 'runtime failed', error: 'no GPU' })); process.exit(2); }
let terms = 0;
process.on('SIGTERM', () => {
  terms += 1;
  if (terms > 1) process.exit(3);
  setTimeout(() => process.exit(0), 400);
});
setInterval(() => {}, 1000);
`;

describe('local capacity provider (processes on this host)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-provider-'));
  const options = (o: Partial<LocalProviderOptions> = {}): LocalProviderOptions => ({
    command: [process.execPath, '-e', FAKE_WORKER, '--'],
    argsTemplate: '--sim-profile {vmType} --sim-model {model}',
    env: {},
    logDir: dir,
    bootTimeoutMs: 10_000,
    stopGraceMs: 10_000,
    drainTimeoutMs: 60_000,
    idPrefix: 't',
    ...o,
  });
  const until = async (check: () => boolean, ms = 10_000) => {
    for (const deadline = Date.now() + ms; !check();) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('boots until its worker is ready, drains with one SIGTERM, and stops when the process exits', async () => {
    const provider = new LocalCapacityProvider(options(), systemClock);
    await provider.open();
    const events: CapacityEvent[] = [];
    provider.subscribe((e) => events.push(e));
    const vm = await provider.start({ vmType: 'a100-qwen2.5-3b', model: 'Qwen/Qwen2.5-3B-Instruct', reason: 'test' });
    expect(vm).toMatchObject({ id: 'local-t-001', state: 'booting', provider: 'local' });
    // a real worker registers only once it is up (and handling SIGTERM)
    await until(
      () =>
        fs.existsSync(path.join(dir, 'local-t-001.log')) && fs.readFileSync(path.join(dir, 'local-t-001.log'), 'utf8').includes('"args"'),
    );
    provider.workerReady('local-t-001');
    expect((await provider.state('local-t-001'))?.state).toBe('ready');
    await provider.drain('local-t-001', 'demand fell');
    // the loop stops a drained node once idle: no second signal
    await provider.stop('local-t-001', 'drained');
    await until(() => events.some((e) => e.to === 'stopped'));
    expect(events.map((e) => `${e.from}→${e.to}`)).toEqual([
      'none→booting',
      'booting→ready',
      'ready→draining',
      'draining→stopping',
      'stopping→stopped',
    ]);
    expect(events[events.length - 1].reason).toBe('worker exited with code 0');
    const log = fs.readFileSync(path.join(dir, 'local-t-001.log'), 'utf8');
    expect(JSON.parse(log.split('\n')[0]).args).toEqual([
      '--sim-profile',
      'a100-qwen2.5-3b',
      '--sim-model',
      'Qwen/Qwen2.5-3B-Instruct',
      '--vm-id',
      'local-t-001',
      '--worker-id',
      'local-t-001',
      '--drain-timeout',
      '60s',
    ]);
    expect(await provider.list()).toEqual([]);
  });

  it("starts a batch-pool node's worker in the batch pool, and a scaler adopting it knows it is one", async () => {
    const poolDir = fs.mkdtempSync(path.join(dir, 'pool-'));
    const first = new LocalCapacityProvider(options({ logDir: poolDir, idPrefix: 'p' }), systemClock);
    await first.open();
    const batch = await first.start({ vmType: 'a100-qwen2.5-3b', model: 'm', reason: 'backlog', pool: 'batch' });
    const interactive = await first.start({ vmType: 'a100-qwen2.5-3b', model: 'm', reason: 'demand' });
    expect([batch.pool, interactive.pool]).toEqual(['batch', undefined]);
    const argsOf = (id: string) => {
      const file = path.join(poolDir, `${id}.log`);
      return fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('"args"')
        ? (JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]).args as string[])
        : undefined;
    };
    await until(() => argsOf(batch.id) !== undefined && argsOf(interactive.id) !== undefined);
    expect(argsOf(batch.id)!.slice(-2)).toEqual(['--pool', 'batch']);
    expect(argsOf(interactive.id)).not.toContain('--pool');
    first.workerReady(batch.id);

    const second = new LocalCapacityProvider(options({ logDir: poolDir, idPrefix: 'q' }), systemClock);
    await second.open();
    expect((await second.list()).map((n) => [n.id, n.state, n.pool])).toEqual([
      [batch.id, 'ready', 'batch'],
      [interactive.id, 'booting', undefined],
    ]);
    for (const id of [batch.id, interactive.id]) await second.stop(id, 'test over');
    await until(() => !fs.readdirSync(poolDir).some((f) => f.endsWith('.node.json')));
  });

  it("gives a worker only an allow-listed part of the scaler's environment: no database URL or other secrets", async () => {
    const secrets = {
      DATABASE_URL: 'postgres://scaler:hunter2@db/maas',
      KEY_HASH_SECRET: 'not-for-workers',
      MAAS_MDX_TOKEN: 'mdx-token',
      AWS_SECRET_ACCESS_KEY: 'aws',
    };
    const kept = { ...process.env };
    Object.assign(process.env, secrets, { HF_HOME: '/srv/hf', CUDA_VISIBLE_DEVICES: '0' });
    const provider = new LocalCapacityProvider(
      options({ env: { FAKE_MODE: 'env', NATS_URL: 'nats://10.0.0.1:4222' }, idPrefix: 'e' }),
      systemClock,
    );
    try {
      await provider.open();
      await provider.start({ vmType: 'a100-qwen2.5-3b', model: 'Qwen/Qwen2.5-3B-Instruct', reason: 'test' });
      const logFile = path.join(dir, 'local-e-001.log');
      await until(() => fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').includes('"env"'));
      const line = fs
        .readFileSync(logFile, 'utf8')
        .split('\n')
        .find((l) => l.includes('"env"'))!;
      const env = (JSON.parse(line) as { env: Record<string, string> }).env;
      for (const name of Object.keys(secrets)) expect(env).not.toHaveProperty(name);
      expect(env).toMatchObject({
        NATS_URL: 'nats://10.0.0.1:4222',
        MAAS_VM_ID: 'local-e-001',
        HF_HOME: '/srv/hf',
        CUDA_VISIBLE_DEVICES: '0',
        PATH: process.env.PATH,
      });
      await provider.stop('local-e-001', 'test over');
    } finally {
      for (const name of [...Object.keys(secrets), 'HF_HOME', 'CUDA_VISIBLE_DEVICES']) {
        if (kept[name] === undefined) delete process.env[name];
        else process.env[name] = kept[name];
      }
      await provider.close();
    }
  });

  it('fails a node whose worker exits before it is ready, saying why', async () => {
    const provider = new LocalCapacityProvider(options({ env: { FAKE_MODE: 'crash' }, idPrefix: 'c' }), systemClock);
    await provider.open();
    const events: CapacityEvent[] = [];
    provider.subscribe((e) => events.push(e));
    await provider.start({ vmType: 'a100-qwen2.5-3b', model: 'm' });
    await until(() => events.some((e) => e.to === 'failed'));
    expect(events[events.length - 1].reason).toBe('worker exited with code 2 while booting: runtime failed: no GPU');
  });

  it('fails a boot that takes too long and refuses to drain a node that is not ready', async () => {
    const provider = new LocalCapacityProvider(options({ bootTimeoutMs: 300, idPrefix: 'b' }), systemClock);
    await provider.open();
    const events: CapacityEvent[] = [];
    provider.subscribe((e) => events.push(e));
    await provider.start({ vmType: 'a100-qwen2.5-3b', model: 'm' });
    await expect(provider.drain('local-b-001')).rejects.toThrow('local provider: local-b-001 is booting; only a ready node can drain');
    await until(() => events.some((e) => e.to === 'failed'));
    expect(events[events.length - 1].reason).toMatch(/^no worker registered ready within 0 s; log /);
  });

  it('adopts the live nodes of a vm-scaler that died, drains them by pid, and forgets dead ones', async () => {
    const adoptDir = fs.mkdtempSync(path.join(dir, 'adopt-'));
    const first = new LocalCapacityProvider(options({ logDir: adoptDir, idPrefix: 'a' }), systemClock);
    await first.open();
    await first.start({ vmType: 'a100-qwen2.5-3b', model: 'm' });
    await first.start({ vmType: 'a100-qwen2.5-3b', model: 'm' });
    await until(() =>
      ['001', '002'].every(
        (n) =>
          fs.existsSync(path.join(adoptDir, `local-a-${n}.log`)) &&
          fs.readFileSync(path.join(adoptDir, `local-a-${n}.log`), 'utf8').includes('"args"'),
      ),
    );
    first.workerReady('local-a-001');
    // the first scaler is gone without draining (as after SIGKILL); a node file whose process is gone stays behind too
    fs.writeFileSync(
      path.join(adoptDir, 'local-z-009.node.json'),
      JSON.stringify({ pid: 999_999, vmType: 'a100-qwen2.5-3b', model: 'm', requestedAt: 0, state: 'ready' }),
    );

    const second = new LocalCapacityProvider(options({ logDir: adoptDir, idPrefix: 'b' }), systemClock);
    const events: CapacityEvent[] = [];
    second.subscribe((e) => events.push(e));
    await second.open();
    const adopted = await second.list();
    expect(adopted.map((n) => [n.id, n.state])).toEqual([
      ['local-a-001', 'ready'],
      ['local-a-002', 'booting'],
    ]);
    expect(events[0].reason).toMatch(/^adopted from an earlier vm-scaler \(pid \d+\)$/);
    expect(fs.existsSync(path.join(adoptDir, 'local-z-009.node.json'))).toBe(false);

    // drained by pid: one SIGTERM (a second would make the fake worker exit 3), then it is noticed gone
    await second.drain('local-a-001', 'demand fell');
    await second.stop('local-a-001', 'drained');
    await until(() => events.some((e) => e.vmId === 'local-a-001' && e.to === 'stopped'));
    expect(events.find((e) => e.vmId === 'local-a-001' && e.to === 'stopped')!.reason).toBe('worker exited');
    expect(fs.existsSync(path.join(adoptDir, 'local-a-001.node.json'))).toBe(false);
    await second.stop('local-a-002', 'not needed');
    await until(() => events.some((e) => e.vmId === 'local-a-002' && e.to === 'stopped'));
    expect(await second.list()).toEqual([]);
  });
});
