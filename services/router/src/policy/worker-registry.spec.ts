import type { WorkerRegistered } from '@maas/contracts';
import { WorkerRegistry } from './worker-registry';

const registration = (id: string, model = 'm'): WorkerRegistered => ({
  workerId: id,
  url: `http://127.0.0.1:1/${id}`,
  hardware: 'cpu',
  capacity: 4,
  vmId: 'vm-1',
  runtime: { kind: 'sim-engine' },
  models: [{ id: model, capabilities: ['chat'] }],
  sentAt: new Date(0).toISOString(),
});

describe('WorkerRegistry', () => {
  it('adds, updates, and lists by model', () => {
    const r = new WorkerRegistry(5000);
    expect(r.register(registration('a'), 0).type).toBe('added');
    expect(r.register(registration('a'), 10).type).toBe('updated');
    r.register(registration('b', 'other'), 10);
    expect(r.list('m').map((w) => w.registration.workerId)).toEqual(['a']);
    expect(r.get('a')?.registeredAt).toBe(0);
  });

  it('expires a worker only after the window without heartbeats', () => {
    const r = new WorkerRegistry(5000);
    r.register(registration('a'), 0);
    r.heartbeat({ workerId: 'a', load: { running: 1, waiting: 0 }, sentAt: '' }, 3000);
    expect(r.expire(8000)).toEqual([]);
    const changes = r.expire(8001);
    expect(changes).toMatchObject([{ type: 'removed', workerId: 'a', reason: 'expired' }]);
    expect(r.list()).toEqual([]);
  });

  it('ignores heartbeats of unknown workers and marks draining', () => {
    const r = new WorkerRegistry(5000);
    expect(r.heartbeat({ workerId: 'x', load: { running: 0, waiting: 0 }, sentAt: '' }, 0)).toBeUndefined();
    r.register(registration('a'), 0);
    expect(r.draining('a', 1)?.state).toBe('draining');
  });

  it('expires nothing while its own bus link is down, and counts silence from the reconnection after it', () => {
    const r = new WorkerRegistry(5000);
    r.register(registration('a'), 0);
    r.register(registration('b'), 0);
    expect(r.expire(30_000, { connected: false, since: 1000 })).toEqual([]);
    const back = { connected: true, since: 30_000 };
    expect(r.expire(35_000, back)).toEqual([]);
    r.heartbeat({ workerId: 'a', load: { running: 0, waiting: 0 }, sentAt: '' }, 31_000);
    expect(r.expire(35_001, back).map((c) => c.type === 'removed' && c.workerId)).toEqual(['b']);
    expect(r.list().map((w) => w.registration.workerId)).toEqual(['a']);
  });
});
