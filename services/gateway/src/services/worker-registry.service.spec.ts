import { loadConfig } from '@maas/config';
import type { WorkerRegistered } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { systemClock } from '@maas/platform';
import { gatewayConfigSpec } from '../gateway.config';
import type { RegistryRepository } from '../repositories/registry.repository';
import { WORKER_EVENTS_PER_TURN, WorkerRegistryService } from './worker-registry.service';

const reg = (id: string): WorkerRegistered => ({
  workerId: id,
  url: `http://127.0.0.1:1/${id}`,
  hardware: 'gpu',
  capacity: 8,
  vmId: 'vm',
  runtime: { kind: 'sim-engine' },
  models: [{ id: 'm', capabilities: ['chat'] }],
  sentAt: '',
});

// the replica and the event queue only: no bus, no router (the repository is never asked here)
const service = () =>
  new WorkerRegistryService(
    loadConfig(gatewayConfigSpec, {}),
    systemClock,
    undefined as unknown as RegistryRepository,
    new Logger('gateway', 'warn', () => undefined),
  );
const turn = () => new Promise((r) => setImmediate(r));

describe('WorkerRegistryService taking worker events', () => {
  it('applies an event at once while few arrive', () => {
    const s = service();
    s.registered(reg('a'));
    expect(s.workersFor('m').map((w) => w.id)).toEqual(['a']);
    s.heartbeat({ workerId: 'a', state: 'unhealthy', load: { running: 2, waiting: 0 }, sentAt: '' });
    expect(s.worker('a')?.endpoints.get('m')).toMatchObject({ state: 'unhealthy', running: 2 });
    s.deregistered({ workerId: 'a', reason: 'shutdown', sentAt: '' });
    expect(s.workersFor('m')).toEqual([]);
  });

  it('takes a storm a share per event-loop turn, in arrival order', async () => {
    const s = service();
    const n = 3 * WORKER_EVENTS_PER_TURN + 7;
    const ids = Array.from({ length: n }, (_, i) => `w${i}`);
    for (const id of ids) s.registered(reg(id));
    // the last worker's heartbeat arrives after its registration and must be applied after it
    s.heartbeat({ workerId: ids[n - 1], load: { running: 5, waiting: 1 }, sentAt: '' });
    s.draining({ workerId: ids[0], inFlight: 0, sentAt: '' });
    const held = [s.workersFor('m').length];
    while (s.queuedEvents > 0) {
      await turn();
      held.push(s.workersFor('m').length);
    }
    expect(held[0]).toBe(WORKER_EVENTS_PER_TURN);
    expect(held.slice(1, -1).every((k, i) => k - held[i] === WORKER_EVENTS_PER_TURN)).toBe(true);
    expect(held[held.length - 1]).toBe(n);
    expect(s.worker(ids[n - 1])?.endpoints.get('m')).toMatchObject({ running: 5, waiting: 1 });
    expect(s.worker(ids[0])?.state).toBe('draining');
  });

  it('wakes requests waiting for a model when a worker of it becomes ready, also from a heartbeat', async () => {
    const s = service();
    s.registered({ ...reg('a'), state: 'starting' });
    const wait = s.waitForCapacity('m', 60_000);
    let woken = false;
    void wait.done.then(() => (woken = true));
    await turn();
    expect(woken).toBe(false);
    s.heartbeat({ workerId: 'a', state: 'ready', load: { running: 0, waiting: 0 }, sentAt: '' });
    await turn();
    expect(woken).toBe(true);
  });
});
