import { factory } from '@maas/testing';
import type { ScalerCapacityProvider } from '../repositories/providers/scaler-provider';
import { WorkerFleetService } from './worker-fleet.service';

/** Only what the fleet asks of its provider: whether nodes host workers, and which became ready. */
function provider(): ScalerCapacityProvider & { ready: string[] } {
  const ready: string[] = [];
  return { hostsWorkers: true, ready, workerReady: (vmId: string) => ready.push(vmId) } as unknown as ScalerCapacityProvider & {
    ready: string[];
  };
}

/** A seeded stream of numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return s / 2 ** 32;
  };
}

describe('WorkerFleetService in-flight per node', () => {
  it("keeps each node's sum as reports arrive: the same as adding up its workers' last reports", () => {
    const p = provider();
    const fleet = new WorkerFleetService(p);
    const random = rng(7);
    const vms = ['vm-a', 'vm-b', 'vm-c', 'vm-d'];
    // the reference: every live worker's node and last count, summed from scratch
    const live = new Map<string, { vmId: string; inFlight: number }>();
    const forgotten = new Set<string>();
    const everHad = new Set<string>();
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
    for (let step = 0; step < 5000; step += 1) {
      const workerId = `w-${Math.floor(random() * 30)}`;
      const n = Math.floor(random() * 9);
      const r = random();
      if (r < 0.2) {
        const vmId = pick(vms); // a worker may come back on another node
        fleet.registered(factory.workerRegistered({ workerId, vmId, load: { running: n, waiting: 1, kvCacheUsage: 0 } }));
        live.set(workerId, { vmId, inFlight: n + 1 });
        everHad.add(vmId);
        forgotten.delete(vmId);
      } else if (r < 0.75) {
        fleet.heartbeat(factory.workerHeartbeat({ workerId, load: { running: n, waiting: 0, inFlight: n + 2, kvCacheUsage: 0 } }));
        const w = live.get(workerId);
        if (w) w.inFlight = n + 2;
      } else if (r < 0.85) {
        fleet.draining(factory.workerDraining({ workerId, inFlight: n }));
        const w = live.get(workerId);
        if (w) w.inFlight = n;
      } else if (r < 0.97) {
        fleet.deregistered(factory.workerDeregistered({ workerId }));
        live.delete(workerId);
      } else {
        const vmId = pick(vms);
        fleet.forget(vmId);
        for (const [id, w] of live) if (w.vmId === vmId) live.delete(id);
        forgotten.add(vmId);
      }
      for (const vmId of [...vms, 'vm-never']) {
        const workers = [...live.values()].filter((w) => w.vmId === vmId);
        const expected =
          workers.length > 0 ? workers.reduce((s, w) => s + w.inFlight, 0) : everHad.has(vmId) && !forgotten.has(vmId) ? 0 : null;
        expect([step, vmId, fleet.inFlight(vmId)]).toEqual([step, vmId, expected]);
      }
    }
    expect(new Set(p.ready)).toEqual(new Set(vms));
  });
});
