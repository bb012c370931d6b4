import { Logger } from '@maas/logging';
import { GuestLauncher, MdxSim, parseMdxSimConfig, startMdxSim } from '@maas/mdx-sim';
import { systemClock } from '@maas/platform';
import type { CapacityEvent } from '@maas/scaling';
import { MdxApi } from '../src/repositories/providers/mdx-api';
import { MdxCapacityProvider, MdxProviderOptions } from '../src/repositories/providers/mdx.provider';
import { loadVmScalerConfig, mdxProviderSettings } from '../src/vm-scaler.config';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MODEL = 'Qwen/Qwen2.5-3B-Instruct';

async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await sleep(50);
  }
}

/**
 * The mdx provider against the mdx API simulator over real HTTP. The guests here run no worker
 * process (e2e/scaling-mdx runs real ones): the test plays the worker's registration by calling
 * workerReady once a guest has started, and a guest exits 100 ms after its SIGTERM.
 */
describe('mdx provider against maas mdx-sim', () => {
  let sim: MdxSim;
  const guests: { vmId: string; at: number; signals: string[] }[] = [];
  const launch: GuestLauncher = (vm) => {
    const guest = { vmId: vm.id, at: Date.now(), signals: [] as string[] };
    guests.push(guest);
    let exit!: () => void;
    const exited = new Promise<void>((resolve) => (exit = resolve));
    return { pid: undefined, exited, signal: (s) => (guest.signals.push(s), void setTimeout(exit, s === 'SIGKILL' ? 0 : 100)) };
  };
  const logged: string[] = [];
  const logger = new Logger('vm-scaler', 'debug', (line) => void logged.push(String(line)));
  const api = () => new MdxApi(sim.url, { username: 'scaler', password: 'pw-1' }, logger);
  const options: MdxProviderOptions = {
    projectId: 'p-1',
    pools: [
      { vmType: 'a100-qwen', model: MODEL, vms: ['vm-a', 'vm-b'] },
      { vmType: 'a100-flaky', model: MODEL, vms: ['vm-f1', 'vm-f2'] },
      {
        vmType: 'a100-deployed',
        model: MODEL,
        vms: [],
        deploy: {
          catalog: 'catalog-qwen',
          templateName: 'qwen',
          packType: 'gpu',
          packNum: 1,
          diskSize: 40,
          storageNetwork: 'portgroup',
          sharedKey: 'ssh-ed25519 AAAAC3Nz test',
          networkAdapters: [],
          max: 1,
        },
      },
    ],
    serviceLevel: 'spot',
    pollMs: 100,
    bootTimeoutMs: 1500,
    stopGraceMs: 3000,
    failedVmHoldMs: 60_000,
  };
  const providers: MdxCapacityProvider[] = [];
  const open = async (overrides: Partial<typeof options> = {}) => {
    const p = new MdxCapacityProvider(api(), { ...options, ...overrides }, systemClock, logger);
    providers.push(p);
    const events: CapacityEvent[] = [];
    p.subscribe((e) => void events.push(e));
    await p.open();
    return { p, events };
  };
  const vmStatus = async (id: string) =>
    ((await (await fetch(`${sim.url}/_sim/vms`)).json()) as { id: string; status: string; task: string | null }[]).find((v) => v.id === id);

  beforeAll(async () => {
    const config = parseMdxSimConfig({
      users: [{ username: 'scaler', password: 'pw-1' }],
      tokenTtlSeconds: 1.5,
      seed: 3,
      templates: { qwen: [] },
      deploySeconds: { kind: 'fixed', seconds: 0.3 },
      bootSeconds: { kind: 'uniform', min: 0.2, max: 0.4 },
      powerOffSeconds: 0.2,
      shutdownTimeoutSeconds: 5,
      rateLimit: { requestsPerSecond: 20, burst: 10 },
      projects: [
        {
          id: 'p-1',
          vms: [
            { id: 'vm-a', worker: [] },
            { id: 'vm-b', worker: [] },
            { id: 'vm-f1', worker: [], failFirstBoots: 1 },
            { id: 'vm-f2', worker: [] },
            { id: 'vm-x', worker: [] },
          ],
        },
      ],
    });
    sim = await startMdxSim({ config, launch });
  });

  afterAll(async () => {
    for (const p of providers) await p.close();
    await sim?.close();
  });

  it('powers a pool VM on, is ready when its worker registers, drains it by a guest shutdown and is stopped at PowerOFF', async () => {
    // vm-b stays booting (no worker) through vm-a's drain, however long a loaded machine makes that
    const { p, events } = await open({ bootTimeoutMs: 60_000 });
    const node = await p.start({ vmType: 'a100-qwen', model: MODEL, reason: 'demand' });
    expect(node).toMatchObject({ id: 'vm-a', provider: 'mdx', state: 'booting' });
    // the VM is PowerOFF until its boot ends; then its guest starts the worker
    const guest = await until(() => guests.find((g) => g.vmId === 'vm-a'), 5000, 'the guest of vm-a starting');
    expect((await vmStatus('vm-a'))?.status).toBe('PowerON');
    p.workerReady('vm-a');
    expect((await p.state('vm-a'))?.state).toBe('ready');
    // the next start takes the next VM of the pool
    expect((await p.start({ vmType: 'a100-qwen', model: MODEL })).id).toBe('vm-b');

    await p.drain('vm-a', 'demand went');
    await until(() => guest.signals.includes('SIGTERM'), 5000, 'the worker getting SIGTERM from the guest shutdown');
    await until(async () => events.some((e) => e.vmId === 'vm-a' && e.to === 'stopped'), 10_000, 'vm-a stopped');
    expect(events.filter((e) => e.vmId === 'vm-a').map((e) => e.to)).toEqual(['booting', 'ready', 'draining', 'stopped']);
    expect(guest.signals).toEqual(['SIGTERM']);
    expect((await vmStatus('vm-a'))?.status).toBe('PowerOFF');

    // a booting node is stopped by a forced power-off (it holds nothing yet)
    await p.stop('vm-b', 'no longer needed');
    await until(async () => events.some((e) => e.vmId === 'vm-b' && e.to === 'stopped'), 10_000, 'vm-b stopped');
    expect((await vmStatus('vm-b'))?.status).toBe('PowerOFF');
    await p.close();
  });

  it('records a boot with no worker as failed, powers the VM off and tries another', async () => {
    const { p, events } = await open();
    expect((await p.start({ vmType: 'a100-flaky', model: MODEL })).id).toBe('vm-f1');
    // vm-f1 reaches PowerON but its guest hangs: no worker, ever
    const failed = await until(() => events.find((e) => e.vmId === 'vm-f1' && e.to === 'failed'), 10_000, 'the failed boot recorded');
    expect(failed.reason).toMatch(/no worker registered ready within 2 s of power_on \(PowerON for \d+ s\)/);
    expect(guests.some((g) => g.vmId === 'vm-f1')).toBe(false);
    await until(async () => (await vmStatus('vm-f1'))?.status === 'PowerOFF', 5000, 'vm-f1 powered off');
    // it is held: the next start takes vm-f2, and with vm-f2 taken none is left
    expect((await p.start({ vmType: 'a100-flaky', model: MODEL })).id).toBe('vm-f2');
    await expect(p.start({ vmType: 'a100-flaky', model: MODEL })).rejects.toThrow(
      'no powered-off VM left in pool "a100-flaky": vm-f1 PowerOFF (held after a failed boot), vm-f2 booting',
    );
    await expect(p.start({ vmType: 'h100', model: MODEL })).rejects.toThrow('no pool for VM type "h100"');
    await p.stop('vm-f2');
    await until(async () => events.some((e) => e.vmId === 'vm-f2' && e.to === 'stopped'), 10_000, 'vm-f2 stopped');
    await p.close();
  });

  it('logs in again when its token has expired, and never logs the token', async () => {
    const { p } = await open();
    const before = sim.stats.logins;
    await sleep(1700); // past the token's lifetime, with no call in between to refresh it
    await p.start({ vmType: 'a100-qwen', model: MODEL });
    expect(sim.stats.logins).toBeGreaterThan(before);
    expect(logged.join('\n')).toContain('mdx login');
    // JWTs start with the base64 of '{"'
    expect(logged.join('\n')).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    await p.stop('vm-a');
    await p.close();
  });

  it('on a 401 for a token it believed valid (the API clock runs ahead), renews it and retries the call once', async () => {
    const skewed = await startMdxSim({
      config: parseMdxSimConfig({
        users: [{ username: 'scaler', password: 'pw-1' }],
        tokenTtlSeconds: 1.5,
        clockSkewSeconds: 5,
        rateLimit: null,
        projects: [{ id: 'p-2', vms: [{ id: 'vm-s', worker: [] }] }],
      }),
      launch,
    });
    try {
      const client = new MdxApi(skewed.url, { username: 'scaler', password: 'pw-1' }, logger);
      expect((await client.vm('vm-s')).status).toBe('PowerOFF');
      await sleep(1700); // expired for the API; by its exp claim, to the client's clock, not yet
      expect((await client.vm('vm-s')).status).toBe('PowerOFF');
      expect(skewed.stats.unauthorized.expired).toBe(1);
      // refresh refused (expired), so it logged in again
      expect([skewed.stats.refusedRefreshes, skewed.stats.logins]).toEqual([1, 2]);
    } finally {
      await skewed.close();
    }
  });

  it('refreshes a token before it expires while calls keep coming', async () => {
    const client = api();
    const before = sim.stats.refreshes;
    for (let i = 0; i < 12; i++) {
      await client.vm('vm-x');
      await sleep(200);
    }
    expect(sim.stats.refreshes).toBeGreaterThan(before);
  });

  it('waits out 429s as Retry-After says', async () => {
    const client = api();
    const before = sim.stats.rateLimited;
    const started = Date.now();
    const vms = await Promise.all(Array.from({ length: 30 }, () => client.vm('vm-x')));
    expect(vms.every((v) => v.uuid === 'vm-x' && v.status === 'PowerOFF')).toBe(true);
    expect(sim.stats.rateLimited).toBeGreaterThan(before);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('answers like the API: JWT scheme only, 401 without it, DRF paging', async () => {
    // The simulator rate-limits every caller, this test's plain requests too: wait out its 429s as a client must.
    const through429 = async (send: () => Promise<Response>): Promise<Response> => {
      for (;;) {
        const res = await send();
        if (res.status !== 429) return res;
        await res.arrayBuffer();
        await sleep(1000 * Math.max(1, Number(res.headers.get('retry-after')) || 1));
      }
    };
    const get = (path: string, auth?: string) =>
      through429(() => fetch(`${sim.url}${path}`, { headers: auth ? { authorization: auth } : {} }));
    expect((await get('/api/vm/vm-x/')).status).toBe(401);
    const login = await through429(() =>
      fetch(`${sim.url}/api/login/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'scaler', password: 'pw-1' }),
      }),
    );
    const { token } = (await login.json()) as { token: string };
    expect((await get('/api/vm/vm-x/', `Bearer ${token}`)).status).toBe(401);
    const page2 = (await (await get('/api/vm/project/p-1/?page=2&page_size=2', `JWT ${token}`)).json()) as {
      count: number;
      next: string;
      previous: string;
      results: { uuid: string }[];
    };
    expect(page2.count).toBe(5);
    expect(page2.results.map((r) => r.uuid)).toEqual(['vm-f1', 'vm-f2']);
    expect(page2.next).toMatch(/page=3&page_size=2$/);
    expect((await get('/api/vm/project/p-1/?page=4&page_size=2', `JWT ${token}`)).status).toBe(404);
    const refused = await through429(() =>
      fetch(`${sim.url}/api/vm/vm-x/shutdown/`, { method: 'POST', headers: { authorization: `JWT ${token}` } }),
    );
    expect([refused.status, ((await refused.json()) as { detail: string }).detail]).toEqual([
      400,
      'VM vm-x is PowerOFF; shutdown needs PowerON',
    ]);
    const badDeploy = await through429(() =>
      fetch(`${sim.url}/api/vm/deploy/`, {
        method: 'POST',
        headers: { authorization: `JWT ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          catalog: 'catalog-qwen',
          template_name: 'qwen',
          vm_name: 'x',
          project: 'p-1',
          pack_type: 'tpu',
          pack_num: 1,
          disk_size: 40,
          os_type: 'Linux',
          power_on: false,
          shared_key: 'k',
          network_adapters: [],
        }),
      }),
    );
    expect([badDeploy.status, await badDeploy.json()]).toEqual([
      400,
      { storage_network: ['This field is required.'], pack_type: ['"tpu" is not a valid choice.'] },
    ]);
  });

  it('deploys from the template when the pool has no VM left (up to its max), and finds what it deployed after a restart', async () => {
    const { p, events } = await open();
    const node = await p.start({ vmType: 'a100-deployed', model: MODEL, reason: 'demand' });
    expect(node.reason).toMatch(/^demand; deployed maas-a100-deployed-[0-9a-z]+ from template qwen$/);
    await until(() => guests.find((g) => g.vmId === node.id), 10_000, 'the deployed VM booting its guest');
    p.workerReady(node.id);
    await expect(p.start({ vmType: 'a100-deployed', model: MODEL })).rejects.toThrow(
      `no powered-off VM left in pool "a100-deployed": ${node.id} ready; 1 of at most 1 deployed`,
    );
    await p.drain(node.id);
    await until(() => events.find((e) => e.vmId === node.id && e.to === 'stopped'), 10_000, 'the deployed VM stopped');
    await p.close();

    // a later vm-scaler knows it by its name: it powers it on again instead of deploying another
    const { p: later } = await open();
    const again = await later.start({ vmType: 'a100-deployed', model: MODEL });
    expect(again.id).toBe(node.id);
    expect(again.reason).toBe(`power_on ${node.id}`);
    const deployed = (await (await fetch(`${sim.url}/_sim/vms`)).json()) as { id: string }[];
    expect(deployed.filter((v) => !v.id.startsWith('vm-'))).toHaveLength(1);
    await later.stop(again.id);
    await later.close();
  });
});

describe('mdx provider settings', () => {
  const base = {
    SCALING_PROVIDER: 'mdx',
    SCALING_MDX_PROJECT: 'p-1',
    SCALING_MDX_TOKEN: 't',
    SCALING_MDX_POOLS: JSON.stringify({ a100: { model: MODEL, vms: ['vm-1'] } }),
  };
  const settings = (env: Record<string, string | undefined>) => () => mdxProviderSettings(loadVmScalerConfigFrom({ ...base, ...env }));
  const loadVmScalerConfigFrom = (env: Record<string, string | undefined>) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
    try {
      return loadVmScalerConfig();
    } finally {
      process.env = saved;
    }
  };

  it.each([
    ['no project', { SCALING_MDX_PROJECT: undefined }, 'SCALING_MDX_PROJECT must be set'],
    [
      'no credentials',
      { SCALING_MDX_TOKEN: undefined },
      'SCALING_MDX_TOKEN, or SCALING_MDX_USERNAME with SCALING_MDX_PASSWORD, must be set',
    ],
    ['pools not JSON', { SCALING_MDX_POOLS: '{' }, 'SCALING_MDX_POOLS must be JSON'],
    [
      'a pool without its model',
      { SCALING_MDX_POOLS: JSON.stringify({ a100: { vms: ['vm-1'] } }) },
      'SCALING_MDX_POOLS.a100.model must be a model name',
    ],
    [
      'a deploy without its template',
      { SCALING_MDX_POOLS: JSON.stringify({ a100: { model: MODEL, deploy: { catalog: 'c', sharedKey: 'k', max: 2 } } }) },
      'SCALING_MDX_POOLS.a100.deploy.templateName must be a non-empty string',
    ],
    [
      'a pool with neither VMs nor deploy',
      { SCALING_MDX_POOLS: JSON.stringify({ a100: { model: MODEL } }) },
      'SCALING_MDX_POOLS.a100: give vms (deployed VMs to power on) or deploy',
    ],
    [
      'a VM in two pools',
      { SCALING_MDX_POOLS: JSON.stringify({ a: { model: 'm', vms: ['v'] }, b: { model: 'm', vms: ['v'] } }) },
      'SCALING_MDX_POOLS.b.vms: VM v is in two pools',
    ],
  ])('%s is refused, naming the key', (_name, env, message) => {
    expect(settings(env)).toThrow(message);
  });

  it('takes a login instead of a token', () => {
    expect(settings({ SCALING_MDX_TOKEN: undefined, SCALING_MDX_USERNAME: 'u', SCALING_MDX_PASSWORD: 'p' })()).toMatchObject({
      projectId: 'p-1',
      pools: [{ vmType: 'a100', model: MODEL, vms: ['vm-1'] }],
    });
  });
});
