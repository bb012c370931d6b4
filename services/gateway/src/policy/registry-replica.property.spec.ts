import fc from 'fast-check';
import type { WorkerRegistered } from '@maas/contracts';
import type { EndpointState } from '@maas/routing';
import { RegistryReplica } from './registry-replica';

const MODELS = ['m', 'e', 'x'];
const IDS = ['a', 'b', 'c', 'd', 'e'];

const reg = (id: string, models: readonly string[], state?: EndpointState): WorkerRegistered => ({
  workerId: id,
  url: `http://127.0.0.1:1/${id}`,
  hardware: 'gpu',
  capacity: 4,
  vmId: 'vm',
  runtime: { kind: 'sim-engine' },
  models: models.map((m) => ({ id: m, capabilities: ['chat'] })),
  sentAt: '',
  ...(state ? { state } : {}),
});

type Op =
  | { kind: 'register'; id: string; models: string[]; state?: EndpointState }
  | { kind: 'heartbeat'; id: string; running: number; state?: EndpointState }
  | { kind: 'draining'; id: string }
  | { kind: 'remove'; id: string }
  | { kind: 'expire'; afterMs: number };

const state = fc.option(fc.constantFrom<EndpointState>('ready', 'starting', 'unhealthy', 'draining'), { nil: undefined });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('register' as const), id: fc.constantFrom(...IDS), models: fc.subarray(MODELS, { minLength: 1 }), state }),
  fc.record({ kind: fc.constant('heartbeat' as const), id: fc.constantFrom(...IDS), running: fc.nat(8), state }),
  fc.record({ kind: fc.constant('draining' as const), id: fc.constantFrom(...IDS) }),
  fc.record({ kind: fc.constant('remove' as const), id: fc.constantFrom(...IDS) }),
  fc.record({ kind: fc.constant('expire' as const), afterMs: fc.nat(20) }),
);

/** The registry as the simplest code would hold it: every question answered by a scan of all workers. */
class ScanningRegistry {
  readonly workers = new Map<string, { models: string[]; state: EndpointState; lastSeenAt: number; running: number }>();

  apply(o: Op, now: number): void {
    const w = 'id' in o ? this.workers.get(o.id) : undefined;
    if (o.kind === 'register')
      this.workers.set(o.id, { models: o.models, state: o.state ?? 'ready', lastSeenAt: now, running: w?.running ?? 0 });
    else if (o.kind === 'heartbeat' && w) Object.assign(w, { state: o.state ?? w.state, lastSeenAt: now, running: o.running });
    else if (o.kind === 'draining' && w) Object.assign(w, { state: 'draining', lastSeenAt: now });
    else if (o.kind === 'remove') this.workers.delete(o.id);
    else if (o.kind === 'expire') for (const [id, x] of this.workers) if (now - x.lastSeenAt > o.afterMs) this.workers.delete(id);
  }

  workersFor(model: string): string[] {
    return [...this.workers].filter(([, w]) => w.models.includes(model)).map(([id]) => id);
  }
}

function applyTo(r: RegistryReplica, o: Op, now: number): void {
  if (o.kind === 'register') r.register(reg(o.id, o.models, o.state), now);
  else if (o.kind === 'heartbeat')
    r.heartbeat({ workerId: o.id, load: { running: o.running, waiting: 0 }, sentAt: '', ...(o.state ? { state: o.state } : {}) }, now);
  else if (o.kind === 'draining') r.draining(o.id, now);
  else if (o.kind === 'remove') r.remove(o.id, now);
  else r.expire(now, o.afterMs);
}

describe('RegistryReplica kept by model in place', () => {
  it('answers every question as a scan of all workers would, after any sequence of events', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const replica = new RegistryReplica();
        const simple = new ScanningRegistry();
        ops.forEach((o, t) => {
          applyTo(replica, o, t);
          simple.apply(o, t);
          for (const model of MODELS) {
            const listed = replica.workersFor(model);
            expect(listed.map((w) => w.id).sort()).toEqual(simple.workersFor(model).sort());
            // each entry is the worker as last heard of, its endpoint carrying the latest load and state
            for (const w of listed) {
              const expected = simple.workers.get(w.id)!;
              expect(w).toBe(replica.get(w.id));
              expect(w.endpoints.get(model)).toMatchObject({ state: expected.state, running: expected.running });
            }
          }
          const byState = { ready: 0, draining: 0, starting: 0, unhealthy: 0 };
          for (const w of simple.workers.values()) byState[w.state] += 1;
          expect(replica.byState()).toEqual(byState);
          expect(
            replica
              .all()
              .map((w) => w.id)
              .sort(),
          ).toEqual([...simple.workers.keys()].sort());
        });
      }),
      { numRuns: 300 },
    );
  });
});
