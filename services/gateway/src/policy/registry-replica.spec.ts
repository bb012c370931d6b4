import type { WorkerRegistered } from '@maas/contracts';
import { RegistryReplica } from './registry-replica';

const reg = (id: string, over: Partial<WorkerRegistered> = {}): WorkerRegistered => ({
  workerId: id,
  url: `http://127.0.0.1:1/${id}`,
  hardware: 'gpu',
  capacity: 4,
  vmId: 'vm',
  runtime: { kind: 'sim-engine' },
  models: [{ id: 'm', upstreamId: 'local-m', capabilities: ['chat'] }],
  sentAt: '',
  ...over,
});

describe('RegistryReplica', () => {
  it('makes one routing endpoint per served model, with the latest load', () => {
    const r = new RegistryReplica();
    r.register(
      reg('a', {
        models: [
          { id: 'm', capabilities: ['chat'] },
          { id: 'e', capabilities: ['embedding'] },
        ],
      }),
      0,
    );
    r.heartbeat({ workerId: 'a', load: { running: 2, waiting: 1, kvCacheUsage: 0.5 }, sentAt: '' }, 10);
    const w = r.get('a')!;
    expect(w.endpoints.get('e')).toMatchObject({
      id: 'a',
      models: ['e'],
      capabilities: ['embedding'],
      running: 2,
      waiting: 1,
      kvCacheUsage: 0.5,
      state: 'ready',
    });
    expect(r.workersFor('m').map((x) => x.id)).toEqual(['a']);
    expect(r.workersFor('m')[0]).toBe(w);
  });

  it('reports when a worker becomes ready, from registration or heartbeat', () => {
    const r = new RegistryReplica();
    expect(r.register(reg('a', { state: 'starting' }), 0).becameReady).toBe(false);
    expect(r.heartbeat({ workerId: 'a', state: 'starting', load: { running: 0, waiting: 0 }, sentAt: '' }, 1)).toBe(false);
    expect(r.heartbeat({ workerId: 'a', state: 'ready', load: { running: 0, waiting: 0 }, sentAt: '' }, 2)).toBe(true);
    expect(r.heartbeat({ workerId: 'a', load: { running: 0, waiting: 0 }, sentAt: '' }, 3)).toBe(false);
    expect(r.heartbeat({ workerId: 'ghost', load: { running: 0, waiting: 0 }, sentAt: '' }, 3)).toBeUndefined();
  });

  it('takes snapshot entries only for workers it has not heard of', () => {
    const r = new RegistryReplica();
    r.register(reg('a'), 0);
    r.draining('a', 1);
    const changes = r.applySnapshot(
      {
        takenAt: '',
        workers: [
          { registration: reg('a'), state: 'ready', lastSeenAt: '' },
          { registration: reg('b'), state: 'ready', lastSeenAt: '' },
        ],
      },
      2,
    );
    expect(changes.map((c) => c.worker.id)).toEqual(['b']);
    expect(r.get('a')?.state).toBe('draining');
  });

  it('expires silent workers and remembers their models for a while', () => {
    const r = new RegistryReplica();
    r.register(reg('a'), 0);
    expect(r.expire(5000, 5000)).toEqual([]);
    expect(r.expire(5001, 5000).map((w) => w.id)).toEqual(['a']);
    expect(r.workersFor('m')).toEqual([]);
    expect(r.knownModel('m', 6000, 60_000)?.capabilities).toEqual(new Set(['chat']));
    expect(r.knownModel('m', 65_002, 60_000)).toBeUndefined();
    expect(r.knownModel('never', 0, 60_000)).toBeUndefined();
  });

  it('holds every worker while the bus is down, and counts silence from the reconnection after it', () => {
    const r = new RegistryReplica();
    r.register(reg('a'), 0);
    r.register(reg('b', { state: 'starting' }), 0);
    const down = { connected: false, since: 1000 };
    expect(r.expire(60_000, 5000, down)).toEqual([]);
    expect(r.counts()).toEqual({ workers: 2, ready: 1 });
    const back = { connected: true, since: 60_000 };
    expect(r.expire(65_000, 5000, back)).toEqual([]);
    r.heartbeat({ workerId: 'a', load: { running: 0, waiting: 0 }, sentAt: '' }, 64_000);
    expect(r.expire(65_001, 5000, back).map((w) => w.id)).toEqual(['b']);
    expect(r.expire(69_001, 5000, back).map((w) => w.id)).toEqual(['a']);
    expect(r.counts()).toEqual({ workers: 0, ready: 0 });
  });

  it('applies a heartbeat and an unchanged re-announcement in place: the same worker and endpoint objects, the latest report', () => {
    const r = new RegistryReplica();
    r.register(reg('a'), 0);
    r.register(reg('b'), 0);
    const w = r.get('a')!;
    const e = w.endpoints.get('m')!;
    const all = r.all();
    r.heartbeat({ workerId: 'a', state: 'unhealthy', load: { running: 3, waiting: 2, kvCacheUsage: 0.25 }, sentAt: '' }, 5);
    expect(r.get('a')).toBe(w);
    expect(w.endpoints.get('m')).toBe(e);
    expect(e).toMatchObject({ state: 'unhealthy', running: 3, waiting: 2, kvCacheUsage: 0.25 });
    expect(w).toMatchObject({ state: 'unhealthy', lastSeenAt: 5 });
    expect(r.register(reg('a', { load: { running: 1, waiting: 0 }, host: 'h2' }), 6).becameReady).toBe(true);
    expect(r.get('a')).toBe(w);
    expect(w.endpoints.get('m')).toBe(e);
    expect(w.registration.host).toBe('h2');
    expect(e).toMatchObject({ state: 'ready', running: 1, waiting: 0, kvCacheUsage: 0 });
    expect(r.all()).toBe(all);
    expect(r.workersFor('m')).toEqual([w, r.get('b')]);
  });

  it('rebuilds what a re-announcement changed: a new model joins its list, one no longer served leaves it and is remembered from then', () => {
    const r = new RegistryReplica();
    r.register(reg('a'), 0);
    const w = r.get('a')!;
    r.register(reg('a', { models: [{ id: 'x', capabilities: ['embedding'] }], url: 'http://127.0.0.1:2/a' }), 50_000);
    expect(r.get('a')).toBe(w);
    expect(r.workersFor('m')).toEqual([]);
    expect(r.workersFor('x')).toEqual([w]);
    expect(w.endpoints.get('m')).toBeUndefined();
    expect(w.endpoints.get('x')).toMatchObject({ url: 'http://127.0.0.1:2/a', capabilities: ['embedding'], state: 'ready' });
    expect(r.knownModel('m', 100_000, 60_000)?.id).toBe('m');
    expect(r.knownModel('m', 110_001, 60_000)).toBeUndefined();
  });

  it('lists every worker in one array until a worker joins or leaves', () => {
    const r = new RegistryReplica();
    r.register(reg('a'), 0);
    const first = r.all();
    expect(first.map((w) => w.id)).toEqual(['a']);
    r.heartbeat({ workerId: 'a', load: { running: 1, waiting: 0 }, sentAt: '' }, 1);
    r.draining('a', 2);
    expect(r.all()).toBe(first);
    r.register(reg('b'), 3);
    expect(r.all().map((w) => w.id)).toEqual(['a', 'b']);
    r.remove('a', 4);
    expect(r.all().map((w) => w.id)).toEqual(['b']);
    expect([...r.servedModels()]).toEqual(['m']);
    r.register(reg('b', { models: [{ id: 'x', capabilities: ['chat'] }] }), 5);
    expect([...r.servedModels()]).toEqual(['x']);
  });
});
