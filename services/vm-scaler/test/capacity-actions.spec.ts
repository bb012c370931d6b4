import type { ScalingAction } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { MdxSim, parseMdxSimConfig, startMdxSim } from '@maas/mdx-sim';
import { systemClock } from '@maas/platform';
import type { ScaleDecision, VmRecord, VmStartRequest } from '@maas/scaling';
import { MdxApi } from '../src/repositories/providers/mdx-api';
import { MdxCapacityProvider, MdxProviderOptions } from '../src/repositories/providers/mdx.provider';
import type { ScalingEventsRepository } from '../src/repositories/scaling-events.repository';
import { ACTION_CONCURRENCY, CapacityActionsService } from '../src/services/capacity-actions.service';

const MODEL = 'Qwen/Qwen2.5-3B-Instruct';
const POOL = Array.from({ length: 14 }, (_, i) => `vm-${String(i).padStart(2, '0')}`);

/** The real mdx provider, counting how many starts it is asked for at once. */
class CountingMdxProvider extends MdxCapacityProvider {
  running = 0;
  mostAtOnce = 0;

  override async start(request: VmStartRequest): Promise<VmRecord> {
    this.mostAtOnce = Math.max(this.mostAtOnce, (this.running += 1));
    try {
      return await super.start(request);
    } finally {
      this.running -= 1;
    }
  }
}

const decision = (capacity: Partial<ScaleDecision['capacity']>): ScaleDecision => ({
  at: 0,
  replicas: {},
  capacity: { models: {}, starts: [], drains: [], stops: [], notes: [], ...capacity },
});

/**
 * CapacityActionsService with the mdx provider against maas mdx-sim over real HTTP, its rate limit
 * on: decisions are queued and carried out off the caller, a bounded number at once. The events go
 * to a list rather than PostgreSQL and JetStream (the scaling-loop and e2e tests cover that path).
 */
describe('capacity actions, queued and run concurrently, against maas mdx-sim', () => {
  let sim: MdxSim;
  const logged: string[] = [];
  const logger = new Logger('vm-scaler', 'debug', (line) => void logged.push(String(line)));
  const recorded: ScalingAction[] = [];
  const events = { action: async (a: ScalingAction) => void recorded.push(a) } as unknown as ScalingEventsRepository;
  const options: MdxProviderOptions = {
    projectId: 'p-1',
    pools: [{ vmType: 'a100-qwen', model: MODEL, vms: POOL }],
    serviceLevel: 'spot',
    pollMs: 100,
    bootTimeoutMs: 60_000,
    stopGraceMs: 3000,
    failedVmHoldMs: 60_000,
  };

  beforeAll(async () => {
    const config = parseMdxSimConfig({
      users: [{ username: 'scaler', password: 'pw-1' }],
      tokenTtlSeconds: 300,
      seed: 5,
      bootSeconds: { kind: 'uniform', min: 0.2, max: 0.4 },
      powerOffSeconds: 0.2,
      shutdownTimeoutSeconds: 5,
      rateLimit: { requestsPerSecond: 10, burst: 6 },
      projects: [{ id: 'p-1', vms: POOL.map((id) => ({ id, worker: [] })) }],
    });
    // guests run no worker here; each exits as soon as it is signalled
    sim = await startMdxSim({
      config,
      launch: () => {
        let exit!: () => void;
        const exited = new Promise<void>((resolve) => (exit = resolve));
        return { pid: undefined, exited, signal: () => void setTimeout(exit, 0) };
      },
    });
  });

  afterAll(async () => {
    await sim?.close();
  });

  it('returns at once, shows queued starts as requested nodes, then powers on distinct VMs a bounded number at a time', async () => {
    const provider = new CountingMdxProvider(
      new MdxApi(sim.url, { username: 'scaler', password: 'pw-1' }, logger),
      options,
      systemClock,
      logger,
    );
    await provider.open();
    const actions = new CapacityActionsService(provider, events, systemClock, logger);

    actions.apply('d-1', decision({ starts: [{ vmType: 'a100-qwen', model: MODEL, count: 12, reason: 'demand' }] }));
    const seen = actions.overlay(await provider.list(), 100);
    expect(seen).toHaveLength(12);
    expect(seen.every((n) => n.state === 'requested' && n.id.startsWith('pending:d-1/start-vm-'))).toBe(true);

    await actions.settled();
    const nodes = await provider.list();
    expect(nodes.map((n) => n.id).sort()).toEqual(POOL.slice(0, 12));
    expect(provider.mostAtOnce).toBeGreaterThan(1);
    expect(provider.mostAtOnce).toBeLessThanOrEqual(ACTION_CONCURRENCY);
    expect(recorded.filter((a) => a.phase === 'completed')).toHaveLength(12);
    expect(recorded.filter((a) => a.phase === 'failed')).toEqual([]);
    // accepted: the next decision sees the provider's own nodes and nothing pending
    expect(actions.overlay(nodes, 200)).toEqual(nodes);
    // node status comes from project listings, never from one call per VM
    expect(logged.join('\n')).not.toContain('mdx VM status unavailable');

    for (const n of nodes) await provider.stop(n.id, 'test over');
    await provider.close();
  });

  it('withdraws a queued start that a later decision stops, and stops a started one once its start is accepted', async () => {
    const provider = new CountingMdxProvider(
      new MdxApi(sim.url, { username: 'scaler', password: 'pw-1' }, logger),
      options,
      systemClock,
      logger,
    );
    await provider.open();
    await new Promise((r) => setTimeout(r, 1500)); // the first test's VMs power off
    const actions = new CapacityActionsService(provider, events, systemClock, logger);
    recorded.length = 0;

    actions.apply('d-2', decision({ starts: [{ vmType: 'a100-qwen', model: MODEL, count: ACTION_CONCURRENCY + 1, reason: 'demand' }] }));
    const first = 'pending:d-2/start-vm-1';
    const last = `pending:d-2/start-vm-${ACTION_CONCURRENCY + 1}`;
    actions.apply(
      'd-3',
      decision({
        stops: [
          { vmId: last, vmType: 'a100-qwen', model: MODEL, reason: 'demand went' },
          { vmId: first, vmType: 'a100-qwen', model: MODEL, reason: 'demand went' },
        ],
      }),
    );
    // the withdrawn start is no capacity at all; the running one is being stopped
    const seen = actions.overlay(await provider.list(), 100);
    expect(seen.find((n) => n.id === last)).toBeUndefined();
    expect(seen.find((n) => n.id === first)?.state).toBe('stopping');

    await actions.settled();
    const byAction = (id: string) => recorded.filter((a) => a.actionId === id).map((a) => a.phase);
    expect(byAction(`d-2/start-vm-${ACTION_CONCURRENCY + 1}`)).toEqual(['started', 'failed']);
    expect(recorded.find((a) => a.actionId === `d-2/start-vm-${ACTION_CONCURRENCY + 1}` && a.phase === 'failed')?.error).toMatch(
      /withdrawn: stopped by d-3\/stop-vm-1 before it ran/,
    );
    expect(byAction('d-3/stop-vm-1')).toEqual(['started', 'completed']);
    // the first start ran: its VM is stopped once the provider accepted the start
    const firstVm = recorded.find((a) => a.actionId === 'd-2/start-vm-1' && a.phase === 'completed')?.target;
    expect(recorded.find((a) => a.actionId === 'd-3/stop-vm-2' && a.phase === 'completed')?.target).toBe(firstVm);
    const nodes = await provider.list();
    // stopping, or already stopped (a booting VM is powered off at once)
    expect(['stopping', undefined]).toContain(nodes.find((n) => n.id === firstVm)?.state);
    expect(nodes.filter((n) => n.state === 'booting')).toHaveLength(ACTION_CONCURRENCY - 1);
    for (const n of nodes) if (n.state === 'booting') await provider.stop(n.id, 'test over');
    await provider.close();
  });

  it('waits out a 429 once for the whole client: every call waits for the same Retry-After', async () => {
    const api = new MdxApi(sim.url, { username: 'scaler', password: 'pw-1' }, logger);
    const before = { limited: sim.stats.rateLimited, warned: logged.filter((l) => l.includes('every call waits')).length };
    // more at once than the burst allows, as many as the provider's actions and its poll can be
    const vms = await Promise.all(Array.from({ length: ACTION_CONCURRENCY + 4 }, () => api.vm(POOL[0])));
    expect(vms.every((v) => v.uuid === POOL[0])).toBe(true);
    const limited = sim.stats.rateLimited - before.limited;
    const warned = logged.filter((l) => l.includes('every call waits')).length - before.warned;
    expect(limited).toBeGreaterThan(0);
    // one pause per Retry-After, however many calls it caught
    expect(warned).toBeGreaterThan(0);
    expect(warned).toBeLessThan(limited);
  });
});
