import type { Capability, RegistrySnapshot, ServedModel, WorkerHeartbeat, WorkerLoad, WorkerRegistered } from '@maas/contracts';
import type { Endpoint, EndpointState } from '@maas/routing';

/** A worker as this gateway knows it, with one routing endpoint per model it serves. */
export interface ReplicaWorker {
  readonly id: string;
  readonly registration: WorkerRegistered;
  readonly state: EndpointState;
  readonly load?: WorkerLoad;
  readonly lastSeenAt: number;
  /** Client-facing model id → what the worker said about it (its upstream name, capabilities). */
  readonly models: ReadonlyMap<string, ServedModel>;
  /** Client-facing model id → endpoint as routing sees it (load from the last report, nothing of our own yet). */
  readonly endpoints: ReadonlyMap<string, Endpoint>;
}

/** A model some worker served: remembered after the last one left, so requests for it wait rather than 404. */
export interface KnownModel {
  readonly id: string;
  readonly capabilities: ReadonlySet<Capability>;
  readonly maxContextTokens?: number;
  readonly firstSeenAt: number;
  lastServedAt: number;
}

/** The gateway's NATS link: up or down since `since` (epoch ms). */
export interface BusView {
  readonly connected: boolean;
  readonly since: number;
}

export interface ReplicaChange {
  readonly worker: ReplicaWorker;
  /** The worker can take requests now and could not before (or is new): waiting requests should retry. */
  readonly becameReady: boolean;
}

function build(
  registration: WorkerRegistered,
  state: EndpointState,
  load: WorkerLoad | undefined,
  lastSeenAt: number,
  // a heartbeat keeps the registration, so the model map is reused rather than rebuilt
  models: ReadonlyMap<string, ServedModel> = new Map(registration.models.map((m) => [m.id, m])),
): ReplicaWorker {
  const endpoints = new Map<string, Endpoint>();
  for (const m of registration.models) {
    endpoints.set(m.id, {
      id: registration.workerId,
      url: registration.url,
      models: [m.id],
      capabilities: m.capabilities,
      state,
      hardware: registration.hardware,
      vmId: registration.vmId,
      capacity: registration.capacity,
      running: load?.running ?? 0,
      waiting: load?.waiting ?? 0,
      kvCacheUsage: load?.kvCacheUsage ?? 0,
      outstanding: 0,
    });
  }
  return { id: registration.workerId, registration, state, load, lastSeenAt, models, endpoints };
}

/**
 * The workers of one model in a list that routing reads as is, with each one's position: a
 * heartbeat replaces its worker in place and a removal moves the last one into the gap, both O(1).
 */
class ModelMembers {
  readonly list: ReplicaWorker[] = [];
  private readonly at = new Map<string, number>();

  set(worker: ReplicaWorker): void {
    const i = this.at.get(worker.id);
    if (i !== undefined) this.list[i] = worker;
    else this.at.set(worker.id, this.list.push(worker) - 1);
  }

  delete(workerId: string): void {
    const i = this.at.get(workerId);
    if (i === undefined) return;
    this.at.delete(workerId);
    const last = this.list.pop()!;
    if (i < this.list.length) {
      this.list[i] = last;
      this.at.set(last.id, i);
    }
  }
}

const NONE: readonly ReplicaWorker[] = [];

/**
 * The gateway's local copy of router's registry, fed by the same events, so routing needs no
 * round trip. Pure: time comes in as `now`; the service around it does the I/O.
 */
export class RegistryReplica {
  private readonly workers = new Map<string, ReplicaWorker>();
  private readonly known = new Map<string, KnownModel>();
  private readonly byModel = new Map<string, ModelMembers>();

  register(registration: WorkerRegistered, now: number): ReplicaChange {
    const before = this.workers.get(registration.workerId);
    const state = registration.state ?? 'ready';
    const worker = build(registration, state, registration.load ?? before?.load, now);
    this.put(worker, now);
    return { worker, becameReady: state === 'ready' && before?.state !== 'ready' };
  }

  /** Undefined for a worker this replica has not seen register: it re-registers within seconds. */
  heartbeat(beat: WorkerHeartbeat, now: number): ReplicaChange | undefined {
    const before = this.workers.get(beat.workerId);
    if (!before) return undefined;
    const state = beat.state ?? before.state;
    const worker = build(before.registration, state, beat.load, now, before.models);
    this.put(worker, now);
    return { worker, becameReady: state === 'ready' && before.state !== 'ready' };
  }

  draining(workerId: string, now: number): ReplicaWorker | undefined {
    const before = this.workers.get(workerId);
    if (!before) return undefined;
    const worker = build(before.registration, 'draining', before.load, now, before.models);
    this.put(worker, now);
    return worker;
  }

  remove(workerId: string, now: number): ReplicaWorker | undefined {
    const worker = this.workers.get(workerId);
    if (!worker) return undefined;
    this.workers.delete(workerId);
    for (const id of worker.models.keys()) {
      this.leave(id, workerId);
      const m = this.known.get(id);
      if (m) m.lastServedAt = now;
    }
    return worker;
  }

  /** Takes router's snapshot for workers not heard of since (events that arrived first are newer). */
  applySnapshot(snapshot: RegistrySnapshot, now: number): ReplicaChange[] {
    const changes: ReplicaChange[] = [];
    for (const w of snapshot.workers) {
      if (this.workers.has(w.registration.workerId)) continue;
      const worker = build(w.registration, w.state, w.load, now);
      this.put(worker, now);
      changes.push({ worker, becameReady: w.state === 'ready' });
    }
    return changes;
  }

  /**
   * Drops workers silent for longer than `afterMs` (router announces expiry too; this covers its
   * absence). Silence on a bus this gateway cannot hear is no news: while `bus` is down nothing
   * expires, and after it reconnects silence counts from the reconnection.
   */
  expire(now: number, afterMs: number, bus: BusView = { connected: true, since: 0 }): ReplicaWorker[] {
    if (!bus.connected) return [];
    const silent = [...this.workers.values()].filter((w) => now - Math.max(w.lastSeenAt, bus.since) > afterMs);
    for (const w of silent) this.remove(w.id, now);
    return silent;
  }

  /** How many workers are held, and how many of them were ready when last heard of. */
  counts(): { workers: number; ready: number } {
    let ready = 0;
    for (const w of this.workers.values()) if (w.state === 'ready') ready++;
    return { workers: this.workers.size, ready };
  }

  /** Workers that list the model, in any state; the replica's own list, current until its next change. */
  workersFor(model: string): readonly ReplicaWorker[] {
    return this.byModel.get(model)?.list ?? NONE;
  }

  /** Workers held by state, counted when asked (a metrics scrape), not on every heartbeat. */
  byState(): Record<EndpointState, number> {
    const counts: Record<EndpointState, number> = { ready: 0, draining: 0, starting: 0, unhealthy: 0 };
    for (const w of this.workers.values()) counts[w.state] += 1;
    return counts;
  }

  /** The model, if a worker lists it now or did within `memoryMs`. */
  knownModel(model: string, now: number, memoryMs: number): KnownModel | undefined {
    const m = this.known.get(model);
    if (!m) return undefined;
    if (this.workersFor(model).length > 0 || now - m.lastServedAt <= memoryMs) return m;
    return undefined;
  }

  get(workerId: string): ReplicaWorker | undefined {
    return this.workers.get(workerId);
  }

  all(): readonly ReplicaWorker[] {
    return [...this.workers.values()];
  }

  private put(worker: ReplicaWorker, now: number): void {
    const before = this.workers.get(worker.id);
    this.workers.set(worker.id, worker);
    if (before && before.models !== worker.models) {
      for (const id of before.models.keys()) if (!worker.models.has(id)) this.leave(id, worker.id);
    }
    for (const id of worker.models.keys()) {
      let members = this.byModel.get(id);
      if (!members) this.byModel.set(id, (members = new ModelMembers()));
      members.set(worker);
    }
    for (const m of worker.registration.models) {
      const k = this.known.get(m.id);
      if (k) {
        k.lastServedAt = now;
        for (const c of m.capabilities) (k.capabilities as Set<Capability>).add(c);
      } else {
        this.known.set(m.id, {
          id: m.id,
          capabilities: new Set(m.capabilities),
          maxContextTokens: m.maxContextTokens,
          firstSeenAt: now,
          lastServedAt: now,
        });
      }
    }
  }

  private leave(model: string, workerId: string): void {
    const members = this.byModel.get(model);
    members?.delete(workerId);
    if (members?.list.length === 0) this.byModel.delete(model);
  }
}
