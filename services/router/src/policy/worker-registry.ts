import type { WorkerHeartbeat, WorkerLoad, WorkerRegistered } from '@maas/contracts';

export type WorkerState = 'ready' | 'draining' | 'starting' | 'unhealthy';

export interface RegisteredWorker {
  registration: WorkerRegistered;
  state: WorkerState;
  load?: WorkerLoad;
  registeredAt: number;
  lastSeenAt: number;
}

export type RegistryChange =
  | { type: 'added'; worker: RegisteredWorker }
  | { type: 'updated'; worker: RegisteredWorker }
  | { type: 'removed'; workerId: string; reason: 'shutdown' | 'expired' | 'replaced'; worker: RegisteredWorker };

/**
 * Membership of model workers, as a value the router mutates through these methods only; pure
 * (time is passed in), so expiry is tested by moving `now`.
 */
export class WorkerRegistry {
  private readonly workers = new Map<string, RegisteredWorker>();

  constructor(private readonly expireAfterMs: number) {}

  register(registration: WorkerRegistered, now: number): RegistryChange {
    const existing = this.workers.get(registration.workerId);
    const worker: RegisteredWorker = {
      registration,
      state: registration.state ?? 'ready',
      load: registration.load ?? existing?.load,
      registeredAt: existing?.registeredAt ?? now,
      lastSeenAt: now,
    };
    this.workers.set(registration.workerId, worker);
    return { type: existing ? 'updated' : 'added', worker };
  }

  /** Returns undefined for an unknown worker: it must (re-)register first. */
  heartbeat(beat: WorkerHeartbeat, now: number): RegisteredWorker | undefined {
    const worker = this.workers.get(beat.workerId);
    if (!worker) return undefined;
    worker.load = beat.load;
    worker.lastSeenAt = now;
    if (beat.state) worker.state = beat.state;
    return worker;
  }

  draining(workerId: string, now: number): RegisteredWorker | undefined {
    const worker = this.workers.get(workerId);
    if (!worker) return undefined;
    worker.state = 'draining';
    worker.lastSeenAt = now;
    return worker;
  }

  remove(workerId: string, reason: 'shutdown' | 'expired' | 'replaced'): RegistryChange | undefined {
    const worker = this.workers.get(workerId);
    if (!worker) return undefined;
    this.workers.delete(workerId);
    return { type: 'removed', workerId, reason, worker };
  }

  /**
   * Removes every worker not heard from within the expiry window. Silence the router could not
   * hear is no news: while `bus` is down nothing expires, and after it reconnects silence counts
   * from the reconnection (workers re-announce within seconds).
   */
  expire(now: number, bus: { readonly connected: boolean; readonly since: number } = { connected: true, since: 0 }): RegistryChange[] {
    if (!bus.connected) return [];
    const expired = [...this.workers.values()].filter((w) => now - Math.max(w.lastSeenAt, bus.since) > this.expireAfterMs);
    return expired.map((w) => this.remove(w.registration.workerId, 'expired')!);
  }

  get size(): number {
    return this.workers.size;
  }

  /** Workers by state, counted when asked (a metrics scrape), not on every change. */
  byState(): Record<WorkerState, number> {
    const counts: Record<WorkerState, number> = { ready: 0, draining: 0, starting: 0, unhealthy: 0 };
    for (const w of this.workers.values()) counts[w.state] += 1;
    return counts;
  }

  get(workerId: string): RegisteredWorker | undefined {
    return this.workers.get(workerId);
  }

  list(model?: string): RegisteredWorker[] {
    const all = [...this.workers.values()];
    return model ? all.filter((w) => w.registration.models.some((m) => m.id === model)) : all;
  }
}
