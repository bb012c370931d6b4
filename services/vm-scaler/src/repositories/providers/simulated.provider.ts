import type { Clock } from '@maas/platform';
import { CapacityListener, SimulatedCapacityProvider, SimulatedProviderSpec, VmRecord, VmStartRequest } from '@maas/scaling';
import { ScalerCapacityProvider } from './scaler-provider';

/**
 * `SimulatedCapacityProvider` on the wall clock: seeded boot times and failures, no processes.
 * Its nodes run no workers, so they hold no requests.
 */
export class WallClockSimulatedProvider implements ScalerCapacityProvider {
  readonly kind = 'simulated' as const;
  readonly hostsWorkers = false;
  private readonly sim: SimulatedCapacityProvider;
  private timer?: NodeJS.Timeout;

  constructor(
    spec: SimulatedProviderSpec,
    private readonly clock: Clock,
  ) {
    // ids of one run must not collide with an earlier run's in the vms table
    const run = Math.floor(clock.now() / 1000).toString(36);
    this.sim = new SimulatedCapacityProvider({ ...spec, idPrefix: `${spec.idPrefix}-${run}` }, this.now());
  }

  /** Seconds; never behind the simulator's own time. */
  private now(): number {
    return Math.max(this.sim?.now ?? 0, this.clock.now() / 1000);
  }

  async open(): Promise<void> {
    // boots end between ticks too, so that vm.state-changed carries the time it happened
    this.timer = setInterval(() => this.sim.advance(this.now()), 250);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
  }

  async list(): Promise<readonly VmRecord[]> {
    this.sim.advance(this.now());
    return this.sim.records();
  }

  async state(vmId: string): Promise<VmRecord | undefined> {
    this.sim.advance(this.now());
    return this.sim.records().find((r) => r.id === vmId);
  }

  async start(request: VmStartRequest): Promise<VmRecord> {
    return this.sim.startVm(request, this.now());
  }

  async drain(vmId: string, reason?: string): Promise<VmRecord> {
    return this.sim.drainVm(vmId, this.now(), reason);
  }

  async stop(vmId: string, reason?: string): Promise<VmRecord> {
    return this.sim.stopVm(vmId, this.now(), reason);
  }

  subscribe(listener: CapacityListener): () => void {
    return this.sim.subscribe(listener);
  }

  workerReady(): void {}
}
