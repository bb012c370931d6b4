import type {
  BatchBacklogReported,
  MetricAggregated,
  ModelDemandPending,
  RequestCompleted,
  WorkerHeartbeat,
  WorkerRegistered,
} from '@maas/contracts';

/**
 * One model's figures over one interval, before they become a MetricAggregated message. Interactive
 * requests make the demand figures; batch requests run on whatever capacity is spare and are counted
 * apart, so that filling idle replicas with batch work never reads as demand for more replicas.
 */
interface Bucket {
  start: number;
  requests: number;
  batchRequests: number;
  /** Busy time of batch requests (ms), taken out of the runtimes' in-flight counts. */
  batchBusyMs: number;
  inputTokens: number;
  outputTokens: number;
  errors: number;
  ttftMs: number[];
  /** Sum over requests of the time each spent inside this bucket (ms): Little's-law concurrency. */
  busyMs: number;
}

interface WorkerView {
  models: string[];
  capacity: number;
  running: number;
  waiting: number;
  lastSeen: number;
}

interface Backlog {
  requests: number;
  inputTokens: number;
  deadline: string | null;
}

const emptyBucket = (start: number): Bucket => ({
  start,
  requests: 0,
  batchRequests: 0,
  batchBusyMs: 0,
  inputTokens: 0,
  outputTokens: 0,
  errors: 0,
  ttftMs: [],
  busyMs: 0,
});

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[idx];
}

/**
 * Per-model demand at a fixed resolution (10 s by default), from usage events (what was served)
 * and worker heartbeats (what is running and queued now). Pure: time comes in as arguments.
 * Buckets close `latenessMs` after their end so late usage events still count.
 */
export class DemandSeries {
  private readonly buckets = new Map<string, Map<number, Bucket>>();
  private readonly workers = new Map<string, WorkerView>();
  private readonly knownModels = new Set<string>();
  /** When each model last had traffic or a live worker: it keeps reporting zero demand for a while after. */
  private readonly lastActive = new Map<string, number>();
  private closedUntil = -Infinity;
  /** The latest batch backlog report: complete, so a model missing from it has none. */
  private backlog = new Map<string, Backlog>();
  private backlogAt = -Infinity;
  /** Requests each gateway holds for a worker (its latest report), per model. */
  private readonly pending = new Map<string, { at: number; held: Map<string, number> }>();

  constructor(
    readonly intervalMs = 10_000,
    private readonly latenessMs = 5_000,
    private readonly workerStaleMs = 10_000,
    // Silence after a model's last worker left would read as "no data" to the scaler, which then holds capacity.
    private readonly quietReportMs = 3_600_000,
    // A backlog nobody has re-reported for this long (its gateways are gone) no longer counts.
    private readonly backlogStaleMs = 60_000,
    // Gateways report held requests every second: a report this old is from a gateway that is gone.
    private readonly pendingStaleMs = 5_000,
  ) {}

  private bucketStart(t: number): number {
    return Math.floor(t / this.intervalMs) * this.intervalMs;
  }

  private bucket(model: string, start: number): Bucket {
    let perModel = this.buckets.get(model);
    if (!perModel) this.buckets.set(model, (perModel = new Map()));
    let b = perModel.get(start);
    if (!b) perModel.set(start, (b = emptyBucket(start)));
    return b;
  }

  /** Records a finished request in the interval it finished in, and its busy time across intervals. */
  requestCompleted(u: RequestCompleted): void {
    const finished = Date.parse(u.finishedAt);
    const started = Date.parse(u.startedAt);
    if (!Number.isFinite(finished)) return;
    this.knownModels.add(u.model);
    this.lastActive.set(u.model, Math.max(this.lastActive.get(u.model) ?? -Infinity, finished));
    const batch = u.kind === 'batch';
    if (this.bucketStart(finished) >= this.closedUntil) {
      const b = this.bucket(u.model, this.bucketStart(finished));
      if (batch) {
        b.batchRequests += 1;
      } else {
        b.requests += 1;
        b.inputTokens += u.promptTokens;
        b.outputTokens += u.completionTokens;
        if (u.status >= 500) b.errors += 1;
        if (u.ttftMs !== null && u.ttftMs !== undefined) b.ttftMs.push(u.ttftMs);
      }
    }
    const from = Number.isFinite(started) ? Math.min(started, finished) : finished;
    for (let s = this.bucketStart(from); s <= finished; s += this.intervalMs) {
      if (s < this.closedUntil) continue; // already published: too late to count
      const overlap = Math.min(finished, s + this.intervalMs) - Math.max(from, s);
      if (overlap <= 0) continue;
      if (batch) this.bucket(u.model, s).batchBusyMs += overlap;
      else this.bucket(u.model, s).busyMs += overlap;
    }
  }

  /** A gateway's view of the batch work not done yet; replaces the previous report. */
  backlogReported(r: BatchBacklogReported, now: number): void {
    this.backlog = new Map(r.models.map((m) => [m.model, { requests: m.requests, inputTokens: m.inputTokens, deadline: m.deadline }]));
    this.backlogAt = now;
    for (const m of r.models) {
      this.knownModels.add(m.model);
      if (m.requests > 0) this.lastActive.set(m.model, now);
    }
  }

  /** A gateway's held requests, replacing its previous report: in flight and waiting, though no runtime has them yet. */
  pendingReported(r: ModelDemandPending, now: number): void {
    if (r.models.length === 0) this.pending.delete(r.gatewayId);
    else this.pending.set(r.gatewayId, { at: now, held: new Map(r.models.map((m) => [m.model, m.held])) });
    for (const m of r.models) {
      this.knownModels.add(m.model);
      if (m.held > 0) this.lastActive.set(m.model, now);
    }
  }

  private heldFor(model: string, now: number): number {
    let held = 0;
    for (const [gateway, report] of this.pending) {
      if (now - report.at > this.pendingStaleMs) this.pending.delete(gateway);
      else held += report.held.get(model) ?? 0;
    }
    return held;
  }

  workerRegistered(w: WorkerRegistered, now: number): void {
    const prev = this.workers.get(w.workerId);
    this.workers.set(w.workerId, {
      models: w.models.map((m) => m.id),
      capacity: w.capacity,
      running: prev?.running ?? w.load?.running ?? 0,
      waiting: prev?.waiting ?? w.load?.waiting ?? 0,
      lastSeen: now,
    });
    for (const m of w.models) this.knownModels.add(m.id);
  }

  heartbeat(h: WorkerHeartbeat, now: number): void {
    const w = this.workers.get(h.workerId);
    if (!w) return;
    w.running = h.load.running;
    w.waiting = h.load.waiting;
    w.lastSeen = now;
  }

  workerLeft(workerId: string): void {
    this.workers.delete(workerId);
  }

  private forget(model: string): void {
    this.knownModels.delete(model);
    this.lastActive.delete(model);
    this.buckets.delete(model);
  }

  /** Closes every interval that ended at least `latenessMs` ago: one aggregate per model and interval. */
  close(now: number): MetricAggregated[] {
    const closeBefore = this.bucketStart(now - this.latenessMs);
    if (closeBefore <= this.closedUntil) return [];
    const first = Number.isFinite(this.closedUntil) ? this.closedUntil : closeBefore - this.intervalMs;
    const live = [...this.workers.values()].filter((w) => now - w.lastSeen <= this.workerStaleMs);
    const out: MetricAggregated[] = [];
    const seconds = this.intervalMs / 1000;
    const backlogFresh = now - this.backlogAt <= this.backlogStaleMs;
    for (const model of this.knownModels) {
      const backlog = backlogFresh ? this.backlog.get(model) : undefined;
      const perModel = this.buckets.get(model) ?? new Map<number, Bucket>();
      const starts = new Set([...perModel.keys()].filter((s) => s < closeBefore));
      // Every interval since the last close, so a model with workers but no traffic reports zero demand.
      for (let s = first; s < closeBefore; s += this.intervalMs) starts.add(s);
      const serving = live.filter((w) => w.models.includes(model));
      if (serving.length > 0) this.lastActive.set(model, now);
      const recentlyActive = now - (this.lastActive.get(model) ?? -Infinity) <= this.quietReportMs;
      if (!recentlyActive && !backlog?.requests && perModel.size === 0) {
        this.forget(model); // quiet for longer than quietReportMs: the set of models stays bounded
        continue;
      }
      const running = serving.reduce((sum, w) => sum + w.running, 0);
      const waiting = serving.reduce((sum, w) => sum + w.waiting, 0) + this.heldFor(model, now);
      for (const start of [...starts].sort((a, b) => a - b)) {
        const b = perModel.get(start) ?? emptyBucket(start);
        perModel.delete(start);
        if (b.requests === 0 && b.busyMs === 0 && b.batchRequests === 0 && serving.length === 0 && !recentlyActive && !backlog?.requests)
          continue;
        const ttft = [...b.ttftMs].sort((x, y) => x - y);
        out.push({
          model,
          intervalStart: new Date(start).toISOString(),
          intervalSeconds: seconds,
          requestRate: b.requests / seconds,
          inputTokensPerSecond: b.inputTokens / seconds,
          outputTokensPerSecond: b.outputTokens / seconds,
          // Usage events see what finished; heartbeats see what is in flight now (batch work included,
          // which the runtimes do not tell apart): take the larger.
          concurrency: Math.max(b.busyMs / this.intervalMs, running + waiting - b.batchBusyMs / this.intervalMs),
          queueDepth: waiting,
          ttftP50Ms: percentile(ttft, 0.5),
          ttftP95Ms: percentile(ttft, 0.95),
          errors: b.errors,
          readyWorkers: serving.length,
          capacityPerWorker: serving.length ? serving.reduce((sum, w) => sum + w.capacity, 0) / serving.length : null,
          batchRequestRate: b.batchRequests / seconds,
          batchBacklog: backlog?.requests ?? 0,
          batchBacklogInputTokens: backlog?.inputTokens ?? 0,
          batchDeadline: backlog?.requests ? backlog.deadline : null,
        });
      }
    }
    this.closedUntil = closeBefore;
    return out;
  }
}
