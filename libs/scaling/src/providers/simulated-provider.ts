import { duration } from '../format';
import { VmState } from '../observation';
import { Rng, seededRng } from '../rng';
import { CapacityEvent, CapacityListener, CapacityProvider, VmRecord, VmStartRequest } from './capacity-provider';

export interface BootTimeRange {
  readonly min: number;
  readonly max: number;
}

/** How simulated nodes behave. Seconds throughout. */
export interface SimulatedProviderSpec {
  /** Start request to serving, uniform in [min, max] (the academic cloud's 2–5 min). */
  readonly bootSeconds: BootTimeRange;
  /** Per VM type, overriding `bootSeconds`. */
  readonly bootSecondsByType: Readonly<Record<string, BootTimeRange>>;
  /** Chance a start fails; the failure comes at a uniform point of the boot it would have had. */
  readonly failureProbability: number;
  /** Stop request to stopped (billed until then); 0 stops at once. */
  readonly stopSeconds: number;
  readonly seed: number;
  /** Prefix of node ids: `${idPrefix}-0001`. */
  readonly idPrefix: string;
}

export const defaultSimulatedProviderSpec: SimulatedProviderSpec = {
  bootSeconds: { min: 120, max: 300 },
  bootSecondsByType: {},
  failureProbability: 0.02,
  stopSeconds: 0,
  seed: 1,
  idPrefix: 'sim',
};

/** Names the first bad key, or undefined. */
export function validateSimulatedProviderSpec(spec: SimulatedProviderSpec): string | undefined {
  const range = (key: string, r: BootTimeRange | undefined) =>
    !r || !(Number.isFinite(r.min) && Number.isFinite(r.max) && r.min >= 0 && r.max >= r.min)
      ? `simulated provider: ${key} must be { min ≥ 0, max ≥ min }, got ${JSON.stringify(r)}`
      : undefined;
  const bootError = range('bootSeconds', spec.bootSeconds);
  if (bootError) return bootError;
  for (const [type, r] of Object.entries(spec.bootSecondsByType ?? {})) {
    const error = range(`bootSecondsByType["${type}"]`, r);
    if (error) return error;
  }
  if (!(spec.failureProbability >= 0 && spec.failureProbability <= 1))
    return `simulated provider: failureProbability must be in [0, 1], got ${spec.failureProbability}`;
  if (!(spec.stopSeconds >= 0)) return `simulated provider: stopSeconds must be ≥ 0, got ${spec.stopSeconds}`;
  if (!Number.isInteger(spec.seed)) return `simulated provider: seed must be an integer, got ${spec.seed}`;
  if (typeof spec.idPrefix !== 'string' || spec.idPrefix === '') return 'simulated provider: idPrefix must be a non-empty string';
  return undefined;
}

interface Node {
  record: VmRecord;
  /** Next scheduled transition (boot done, boot failed, stop done). */
  nextAt: number | undefined;
  nextState: VmState | undefined;
  nextReason: string | null;
}

/**
 * VMs in virtual time: boot times drawn from a seeded distribution, some boots fail. The core is
 * synchronous and takes `now` explicitly (`startVm`, `drainVm`, `stopVm`, `advance`), so one
 * discrete-event loop can drive many providers over weeks; the async `CapacityProvider` methods act
 * at the time of the last `advance`. Same seed and same calls give the same nodes and events.
 */
export class SimulatedCapacityProvider implements CapacityProvider {
  readonly kind = 'simulated' as const;
  readonly spec: SimulatedProviderSpec;
  private readonly rng: Rng;
  private readonly nodes = new Map<string, Node>();
  private readonly listeners = new Set<CapacityListener>();
  private clock: number;
  private issued = 0;
  private endedSeconds = new Map<string, number>();

  constructor(spec: Partial<SimulatedProviderSpec> = {}, startAt = 0) {
    this.spec = { ...defaultSimulatedProviderSpec, ...spec };
    const error = validateSimulatedProviderSpec(this.spec);
    if (error) throw new Error(error);
    this.rng = seededRng(this.spec.seed);
    this.clock = startAt;
  }

  /** Virtual time of the last call. */
  get now(): number {
    return this.clock;
  }

  // ---- virtual-time core ----

  /** Requests a node at `now`; it is `booting` at once. `ready` (or `failed`) comes from `advance`. */
  startVm(request: VmStartRequest, now: number, options: { ready?: boolean } = {}): VmRecord {
    this.moveClock(now);
    this.issued += 1;
    const id = `${this.spec.idPrefix}-${String(this.issued).padStart(4, '0')}`;
    const range = this.spec.bootSecondsByType[request.vmType] ?? this.spec.bootSeconds;
    // both draws happen for every start so that one node's fate does not shift the next one's
    const boot = range.min + (range.max - range.min) * this.rng();
    const failDraw = this.rng();
    const failAt = this.rng();
    if (options.ready) {
      // an already-running node (initial fleet)
      const record = this.makeRecord(id, request, 'ready', now, now, request.reason ?? null);
      this.nodes.set(id, { record: { ...record, readyAt: now }, nextAt: undefined, nextState: undefined, nextReason: null });
      this.emit({ ...this.eventBase(record), from: 'none', to: 'ready', at: now, reason: request.reason ?? 'already running' });
      return this.nodes.get(id)!.record;
    }
    const fails = failDraw < this.spec.failureProbability;
    const record = this.makeRecord(id, request, 'booting', now, now, request.reason ?? null);
    this.nodes.set(id, {
      record,
      nextAt: fails ? now + boot * failAt : now + boot,
      nextState: fails ? 'failed' : 'ready',
      nextReason: fails ? `boot failed after ${duration(boot * failAt)}` : `booted in ${duration(boot)}`,
    });
    this.emit({ ...this.eventBase(record), from: 'none', to: 'booting', at: now, reason: request.reason ?? null });
    return record;
  }

  /** Ready → draining at `now`. */
  drainVm(vmId: string, now: number, reason?: string): VmRecord {
    this.moveClock(now);
    const node = this.node(vmId);
    if (node.record.state === 'draining') return node.record;
    if (node.record.state !== 'ready') throw new Error(`simulated provider: ${vmId} is ${node.record.state}; only a ready node can drain`);
    return this.transition(node, 'draining', now, reason ?? null);
  }

  /** Stops a node at `now` (booting ones too: the boot is abandoned). */
  stopVm(vmId: string, now: number, reason?: string): VmRecord {
    this.moveClock(now);
    const node = this.node(vmId);
    const state = node.record.state;
    if (state === 'stopped' || state === 'failed' || state === 'stopping') return node.record;
    if (this.spec.stopSeconds > 0) {
      const record = this.transition(node, 'stopping', now, reason ?? null);
      node.nextAt = now + this.spec.stopSeconds;
      node.nextState = 'stopped';
      node.nextReason = reason ?? null;
      return record;
    }
    return this.transition(node, 'stopped', now, reason ?? null);
  }

  /** Applies every transition due at or before `now`, in time order; returns (and emits) their events. */
  advance(now: number): CapacityEvent[] {
    this.moveClock(now);
    const due = [...this.nodes.values()].filter((n) => n.nextAt !== undefined && n.nextAt <= now);
    due.sort((a, b) => (a.nextAt as number) - (b.nextAt as number) || (a.record.id < b.record.id ? -1 : 1));
    const events: CapacityEvent[] = [];
    for (const node of due) {
      const at = node.nextAt as number;
      const to = node.nextState as VmState;
      const reason = node.nextReason;
      node.nextAt = undefined;
      node.nextState = undefined;
      const from = node.record.state;
      this.transition(node, to, at, reason, false);
      events.push({ ...this.eventBase(node.record), from, to, at, reason });
    }
    for (const event of events) this.emit(event);
    return events;
  }

  /** When `advance` next has something to report; undefined when nothing is pending. */
  nextEventTime(): number | undefined {
    let next: number | undefined;
    for (const node of this.nodes.values()) if (node.nextAt !== undefined && (next === undefined || node.nextAt < next)) next = node.nextAt;
    return next;
  }

  /** Nodes that have not ended, in id order. */
  records(): VmRecord[] {
    return [...this.nodes.values()].map((n) => n.record);
  }

  /** Billed node-seconds per VM type up to `now`: from the start request until stopped or failed. */
  usage(now: number): Record<string, number> {
    const total: Record<string, number> = Object.fromEntries(this.endedSeconds);
    for (const node of this.nodes.values())
      total[node.record.vmType] = (total[node.record.vmType] ?? 0) + Math.max(0, now - node.record.requestedAt);
    return total;
  }

  // ---- CapacityProvider, at the time of the last advance ----

  async list(): Promise<readonly VmRecord[]> {
    return this.records();
  }

  async state(vmId: string): Promise<VmRecord | undefined> {
    return this.nodes.get(vmId)?.record;
  }

  async start(request: VmStartRequest): Promise<VmRecord> {
    return this.startVm(request, this.clock);
  }

  async drain(vmId: string, reason?: string): Promise<VmRecord> {
    return this.drainVm(vmId, this.clock, reason);
  }

  async stop(vmId: string, reason?: string): Promise<VmRecord> {
    return this.stopVm(vmId, this.clock, reason);
  }

  subscribe(listener: CapacityListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- internals ----

  private moveClock(now: number): void {
    if (!Number.isFinite(now)) throw new Error(`simulated provider: time must be finite, got ${now}`);
    if (now < this.clock) throw new Error(`simulated provider: time went back from ${this.clock} to ${now}`);
    this.clock = now;
  }

  private node(vmId: string): Node {
    const node = this.nodes.get(vmId);
    if (!node) throw new Error(`simulated provider: no node "${vmId}" (known: ${[...this.nodes.keys()].join(', ') || 'none'})`);
    return node;
  }

  private makeRecord(
    id: string,
    request: VmStartRequest,
    state: VmState,
    requestedAt: number,
    since: number,
    reason: string | null,
  ): VmRecord {
    return {
      id,
      provider: 'simulated',
      vmType: request.vmType,
      model: request.model,
      state,
      requestedAt,
      stateSince: since,
      readyAt: null,
      endedAt: null,
      reason,
      ...(request.pool ? { pool: request.pool } : {}),
    };
  }

  private eventBase(record: VmRecord) {
    return { vmId: record.id, provider: record.provider, vmType: record.vmType, model: record.model };
  }

  private transition(node: Node, to: VmState, at: number, reason: string | null, emit = true): VmRecord {
    const from = node.record.state;
    const ended = to === 'stopped' || to === 'failed';
    node.record = {
      ...node.record,
      state: to,
      stateSince: at,
      readyAt: to === 'ready' ? at : node.record.readyAt,
      endedAt: ended ? at : null,
      reason: reason ?? node.record.reason,
    };
    if (to !== 'stopping') {
      node.nextAt = undefined;
      node.nextState = undefined;
    }
    if (ended) {
      this.nodes.delete(node.record.id);
      this.endedSeconds.set(node.record.vmType, (this.endedSeconds.get(node.record.vmType) ?? 0) + (at - node.record.requestedAt));
    }
    if (emit) this.emit({ ...this.eventBase(node.record), from, to, at, reason });
    return node.record;
  }

  private emit(event: CapacityEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
