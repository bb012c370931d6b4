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

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * A worker as held: one object for as long as the replica holds the worker, its endpoints too. A
 * heartbeat writes its state and load into them (no object is made), so routing, which reads the
 * same objects, sees the latest report and nothing has to be rebuilt for it.
 */
class HeldWorker implements ReplicaWorker {
  readonly id: string;
  registration: WorkerRegistered;
  state: EndpointState;
  load: WorkerLoad | undefined;
  lastSeenAt: number;
  models!: ReadonlyMap<string, ServedModel>;
  endpoints!: ReadonlyMap<string, Endpoint>;
  /** The values of `endpoints`, for a heartbeat's writes. */
  private list!: Mutable<Endpoint>[];

  constructor(registration: WorkerRegistered, state: EndpointState, load: WorkerLoad | undefined, now: number) {
    this.id = registration.workerId;
    this.registration = registration;
    this.state = state;
    this.load = load;
    this.lastSeenAt = now;
    this.serve(registration);
  }

  /** What the worker serves and where: its models and their endpoints, made anew (a registration that changed them). */
  serve(registration: WorkerRegistered): void {
    this.registration = registration;
    this.models = new Map(registration.models.map((m) => [m.id, m]));
    const endpoints = new Map<string, Endpoint>();
    this.list = [];
    for (const m of registration.models) {
      const e: Mutable<Endpoint> = {
        id: registration.workerId,
        url: registration.url,
        models: [m.id],
        capabilities: m.capabilities,
        state: this.state,
        hardware: registration.hardware,
        vmId: registration.vmId,
        capacity: registration.capacity,
        running: this.load?.running ?? 0,
        waiting: this.load?.waiting ?? 0,
        kvCacheUsage: this.load?.kvCacheUsage ?? 0,
        outstanding: 0,
      };
      endpoints.set(m.id, e);
      this.list.push(e);
    }
    this.endpoints = endpoints;
  }

  /** A report: state and load written into the worker and its endpoints, O(models it serves). */
  report(state: EndpointState, load: WorkerLoad | undefined, now: number): void {
    this.state = state;
    this.load = load;
    this.lastSeenAt = now;
    const running = load?.running ?? 0;
    const waiting = load?.waiting ?? 0;
    const kv = load?.kvCacheUsage ?? 0;
    for (let i = 0; i < this.list.length; i++) {
      const e = this.list[i];
      e.state = state;
      e.running = running;
      e.waiting = waiting;
      e.kvCacheUsage = kv;
    }
  }
}

/** Whether a re-announcement serves the same models at the same place as the registration held (then only its report is new). */
function sameServing(a: WorkerRegistered, b: WorkerRegistered): boolean {
  if (
    a.url !== b.url ||
    a.hardware !== b.hardware ||
    a.vmId !== b.vmId ||
    a.capacity !== b.capacity ||
    a.pool !== b.pool ||
    a.models.length !== b.models.length
  )
    return false;
  for (let i = 0; i < a.models.length; i++) {
    const x = a.models[i];
    const y = b.models[i];
    if (x.id !== y.id || x.upstreamId !== y.upstreamId || x.maxContextTokens !== y.maxContextTokens) return false;
    if (x.capabilities.length !== y.capabilities.length || x.capabilities.some((c, k) => c !== y.capabilities[k])) return false;
  }
  return true;
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
 *
 * A heartbeat is O(1) and makes no object: the worker's own entry and endpoints are updated in
 * place. So is a re-announcement that changes nothing but the report (every worker's, every 10 s).
 */
export class RegistryReplica {
  private readonly workers = new Map<string, HeldWorker>();
  private readonly known = new Map<string, KnownModel>();
  private readonly byModel = new Map<string, ModelMembers>();
  /** `all()`, kept until a worker joins or leaves (heartbeats change no entry). */
  private listed?: readonly ReplicaWorker[];

  register(registration: WorkerRegistered, now: number): ReplicaChange {
    const state = registration.state ?? 'ready';
    const before = this.workers.get(registration.workerId);
    if (!before) {
      const worker = new HeldWorker(registration, state, registration.load, now);
      this.workers.set(worker.id, worker);
      this.listed = undefined;
      this.join(worker, now);
      return { worker, becameReady: state === 'ready' };
    }
    const wasReady = before.state === 'ready';
    if (sameServing(before.registration, registration)) before.registration = registration;
    else {
      const models = before.models;
      before.serve(registration);
      for (const id of models.keys()) if (!before.models.has(id)) this.leave(id, before.id, now);
      this.join(before, now);
    }
    before.report(state, registration.load ?? before.load, now);
    return { worker: before, becameReady: state === 'ready' && !wasReady };
  }

  /**
   * Whether the worker became ready with this heartbeat (it could not take requests before);
   * undefined for a worker this replica has not seen register: it re-registers within seconds.
   */
  heartbeat(beat: WorkerHeartbeat, now: number): boolean | undefined {
    const worker = this.workers.get(beat.workerId);
    if (!worker) return undefined;
    const wasReady = worker.state === 'ready';
    const state = beat.state ?? worker.state;
    worker.report(state, beat.load, now);
    return state === 'ready' && !wasReady;
  }

  draining(workerId: string, now: number): ReplicaWorker | undefined {
    const worker = this.workers.get(workerId);
    worker?.report('draining', worker.load, now);
    return worker;
  }

  remove(workerId: string, now: number): ReplicaWorker | undefined {
    const worker = this.workers.get(workerId);
    if (!worker) return undefined;
    this.workers.delete(workerId);
    this.listed = undefined;
    for (const id of worker.models.keys()) this.leave(id, workerId, now);
    return worker;
  }

  /** Takes router's snapshot for workers not heard of since (events that arrived first are newer). */
  applySnapshot(snapshot: RegistrySnapshot, now: number): ReplicaChange[] {
    const changes: ReplicaChange[] = [];
    for (const w of snapshot.workers) {
      if (this.workers.has(w.registration.workerId)) continue;
      const worker = new HeldWorker(w.registration, w.state, w.load, now);
      this.workers.set(worker.id, worker);
      this.listed = undefined;
      this.join(worker, now);
      changes.push({ worker, becameReady: w.state === 'ready' });
    }
    return changes;
  }

  /**
   * Drops workers silent for longer than `afterMs` (router announces expiry too; this covers its
   * absence). Silence on a bus this gateway cannot hear is no news: while `bus` is down nothing
   * expires, and after it reconnects silence counts from the reconnection.
   */
  expire(now: number, afterMs: number, bus: BusView = { connected: true, since: 0 }): readonly ReplicaWorker[] {
    if (!bus.connected) return NONE;
    let silent: ReplicaWorker[] | undefined;
    for (const w of this.workers.values()) if (now - Math.max(w.lastSeenAt, bus.since) > afterMs) (silent ??= []).push(w);
    if (!silent) return NONE;
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

  /** Models some worker held lists now, from the per-model index: O(models), whatever the fleet's size. */
  servedModels(): IterableIterator<string> {
    return this.byModel.keys();
  }

  /** Every worker held; the replica's own list, current until a worker joins or leaves. */
  all(): readonly ReplicaWorker[] {
    return (this.listed ??= [...this.workers.values()]);
  }

  /** The worker's models: it joins their lists, and they are known (with what it can do) from now on. */
  private join(worker: HeldWorker, now: number): void {
    for (const m of worker.registration.models) {
      let members = this.byModel.get(m.id);
      if (!members) this.byModel.set(m.id, (members = new ModelMembers()));
      members.set(worker);
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

  /** The worker no longer serves the model: the model is remembered from now (GATEWAY_MODEL_MEMORY). */
  private leave(model: string, workerId: string, now: number): void {
    const members = this.byModel.get(model);
    members?.delete(workerId);
    if (members?.list.length === 0) this.byModel.delete(model);
    const k = this.known.get(model);
    if (k) k.lastServedAt = now;
  }
}
