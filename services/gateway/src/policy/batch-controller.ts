/**
 * How much batch work each worker of a model may run now, so interactive requests keep their latency
 * objectives (TTFT p99, TPOT p99) while batch work takes whatever the engines have left.
 *
 * Why AIMD (additive increase, multiplicative decrease), with slow start and a hold band:
 * - The controller does not know how interactive latency depends on batch concurrency: the curve moves
 *   several-fold through the day with the interactive rate, prompt and output lengths. AIMD needs no such
 *   model, only a "holds / at risk" signal, and it is stable under a signal that is delayed (a request's
 *   TTFT is known when it completes) and noisy (a p99 over a few seconds of requests).
 * - Being late costs the objective, being early costs a little throughput: a burst must be met within a
 *   few seconds, so the decrease is multiplicative (a 32-request batch load is cut to 16 at the first
 *   update that sees the risk, to 8 at the next once that has acted), while the increase only probes (a
 *   fixed step per update), the asymmetric reaction the objective calls for.
 * - A PID on the p99 would need a gain matched to that moving curve and a continuous, low-noise error; a
 *   p99 over a few samples is neither. A model-based controller (predict step time from concurrency)
 *   would need each engine's profile. The step time the worker reports is used, though, as a delay-based
 *   early signal (as in TCP Vegas or BBR): an interactive request's TPOT is the step time of the engine
 *   it runs on, and steps lengthen before any interactive completion reports a late token.
 * - Hysteresis: the limit rises only while every signal is below `headroom` × its objective and is cut
 *   only when one is over it; in between it holds, so a flat signal near the objective moves nothing
 *   (plain AIMD would saw-tooth across it). One cut per piece of evidence, as TCP cuts once per round
 *   trip: samples measured before a cut cannot cause another one, heartbeat signals are given
 *   `cutSpacingMs` to show its effect, and nothing is cut again while batch work admitted before the
 *   cut still runs above the limit.
 * - Slow start (doubling until the first sign of risk) gets a fresh worker to its ceiling in a few
 *   updates at night, when nothing else runs; after the first cut the increase is additive.
 * - Several gateways each run batch work on the same workers, each with its own controller and no
 *   coordination: AIMD flows sharing one bottleneck converge to equal shares (Chiu and Jain), so
 *   their sum settles where the objectives hold without any of them knowing the others.
 *
 * The limit throttles admission only: batch requests already running finish, so a cut acts as they
 * complete (long batch generations make it slower). Admission takes the limit paced by `pacedLimits`
 * (one more batch request per update on a worker running anything else).
 *
 * The signals, per worker: the TTFT/TPOT p99 of the interactive requests it served (requests without a
 * worker count for every worker of the model) over the last `windowMs`; from its heartbeat, requests
 * waiting in its queue (interactive requests queue behind batch work there), its KV cache use (full KV
 * means preemptions and queueing next) and its step time. With no interactive request in the window
 * (night), heartbeats alone decide.
 *
 * A step up in the interactive rate (night to afternoon) is met from heartbeats, before any latency
 * sample: a request's TTFT is reported when it completes, seconds after its first token, and what hurts
 * first tokens meanwhile is not batch work already decoding (a few tenths of a millisecond a step per
 * request) but the prefill of every batch request admitted since, which shares each step with them for a
 * while (a 6k-token prompt in 256-token chunks: about 24 steps, 13 ms longer each). So:
 * - the step time bounds TTFT as well as TPOT: a first token waits for the step in flight, then takes its
 *   own (`firstTokenSteps`);
 * - a surge (interactive requests running on the worker up by `surgeRise` within `surgeWindowMs`) stops
 *   admission at once, down to the floor, whatever is still running;
 * - the first batch request back on a worker serving interactive requests waits for samples taken since
 *   the last cut and for more room (`probeHeadroom`) than a further one: its prefill costs at once.
 *
 * Pure: time is `nowMs` of the caller's clock, samples and heartbeats come in, limits go out.
 */

export interface BatchObjectives {
  ttftP99Ms: number;
  tpotP99Ms: number;
}

export interface WorkerLoad {
  workerId: string;
  /** Requests in the engine's running batch (interactive and batch). */
  running: number;
  /** Requests queued in the engine. */
  waiting: number;
  /** Batch requests this gateway has on the worker. */
  batchInFlight: number;
  /** 0..1, when the runtime reports it. */
  kvUsage?: number;
  /** Mean engine step (decode iteration) time over the last heartbeat interval, when the runtime reports it. */
  stepMs?: number;
  /** Request slots of the worker: the limit never exceeds them. */
  capacity?: number;
}

export interface InteractiveSample {
  /** When the first token was seen, on the caller's clock. */
  atMs: number;
  workerId?: string;
  ttftMs: number;
  tpotMs?: number;
}

export interface BatchControllerOptions {
  objectives: BatchObjectives;
  /** Most batch requests per worker (the hand-set `GATEWAY_BATCH_CONCURRENCY`, now a ceiling). */
  ceiling: number;
  /**
   * Fewest batch requests per worker, however bad latency is; default 0: the objectives come first, and even
   * one batch request, replaced as it finishes, keeps a prefill in the steps of an afternoon peak's first
   * tokens (1 keeps a backlog moving at any cost to them).
   */
  floor?: number;
  /** A worker's limit when first seen; default `floor` (1 at least), then slow start. */
  initial?: number;
  /** Added per update while the objectives hold comfortably; default max(1, ceiling / 16). */
  increase?: number;
  /** Kept of the limit at a cut; default 0.5. */
  decrease?: number;
  /** Below this share of an objective, a signal allows an increase; between it and 1 the limit holds. Default 0.8. */
  headroom?: number;
  /** Interactive samples older than this are forgotten; default 10 s. */
  windowMs?: number;
  /** After a cut, heartbeat signals may cause another only this much later; default 2 s. */
  cutSpacingMs?: number;
  /** After a cut, the limit holds at least this long before rising; default 3 s. */
  holdAfterCutMs?: number;
  /** Requests waiting in a worker's queue tolerated before a cut; default 0. */
  waitingTolerance?: number;
  /** KV cache use at which a worker's batch work is cut; default 0.92 (it holds from `headroom` of it). */
  kvHigh?: number;
  /** Engine steps a first token's p99 takes (the step in flight at arrival, then the request's own); default 2; 0: off. */
  firstTokenSteps?: number;
  /** As `headroom`, for a worker admitting no batch work (limit below 1) while it serves interactive requests; default 0.6. */
  probeHeadroom?: number;
  /** Interactive requests running on a worker rising by this share within `surgeWindowMs` (and by `surgeMin` at least) is a surge: batch work is cut. Default 0.5; 0: off. */
  surgeRise?: number;
  /** Default 3 s. */
  surgeWindowMs?: number;
  /** Default 8 requests. */
  surgeMin?: number;
}

type Tuning = Required<Omit<BatchControllerOptions, 'objectives'>> & { objectives: BatchObjectives };

/** What a worker's signals say: raise, keep, or cut its batch work; stop: cut to the floor (an interactive surge). */
export type Verdict = 'raise' | 'hold' | 'cut' | 'stop';

interface WorkerControl {
  limit: number;
  slowStart: boolean;
  lastCutAt: number;
  /** When the limit last rose from below 1 beside interactive requests (a probe). */
  probedAt: number;
  /** Interactive requests the worker ran at recent updates (its heartbeat's running less batch work), oldest first. */
  interactive: { atMs: number; n: number }[];
}

export class BatchController {
  private readonly o: Tuning;
  private readonly workers = new Map<string, WorkerControl>();
  private samples: InteractiveSample[] = [];
  private readonly verdicts = new Map<string, Verdict>();

  constructor(options: BatchControllerOptions) {
    const ceiling = Math.max(0, options.ceiling);
    const floor = Math.min(ceiling, Math.max(0, options.floor ?? 0));
    this.o = {
      objectives: options.objectives,
      ceiling,
      floor,
      initial: clamp(options.initial ?? Math.max(floor, 1), floor, ceiling),
      increase: options.increase ?? Math.max(1, ceiling / 16),
      decrease: options.decrease ?? 0.5,
      headroom: options.headroom ?? 0.8,
      windowMs: options.windowMs ?? 10_000,
      cutSpacingMs: options.cutSpacingMs ?? 2_000,
      holdAfterCutMs: options.holdAfterCutMs ?? 3_000,
      waitingTolerance: options.waitingTolerance ?? 0,
      kvHigh: options.kvHigh ?? 0.92,
      firstTokenSteps: options.firstTokenSteps ?? 2,
      probeHeadroom: options.probeHeadroom ?? 0.6,
      surgeWindowMs: options.surgeWindowMs ?? 3_000,
      surgeRise: options.surgeRise ?? 0.5,
      surgeMin: options.surgeMin ?? 8,
    };
  }

  get ceiling(): number {
    return this.o.ceiling;
  }

  /** Feed what happened since the last call; returns the batch concurrency allowed per worker now. */
  update(nowMs: number, samples: readonly InteractiveSample[], workers: readonly WorkerLoad[]): ReadonlyMap<string, number> {
    const since = nowMs - this.o.windowMs;
    this.samples = this.samples.filter((s) => s.atMs > since);
    for (const s of samples) if (s.atMs > since) this.samples.push(s);

    const present = new Set(workers.map((w) => w.workerId));
    for (const id of this.workers.keys()) if (!present.has(id)) this.workers.delete(id);
    for (const id of this.verdicts.keys()) if (!present.has(id)) this.verdicts.delete(id);

    // Samples by worker, once: each worker reads its own and the unattributed ones (not every sample per worker).
    const byWorker = new Map<string | undefined, InteractiveSample[]>();
    for (const s of this.samples) {
      const list = byWorker.get(s.workerId);
      if (list) list.push(s);
      else byWorker.set(s.workerId, [s]);
    }
    const unattributed = byWorker.get(undefined) ?? [];
    const out = new Map<string, number>();
    for (const load of workers) {
      let control = this.workers.get(load.workerId);
      if (!control) {
        control = {
          limit: this.o.initial,
          slowStart: true,
          lastCutAt: Number.NEGATIVE_INFINITY,
          probedAt: Number.NEGATIVE_INFINITY,
          interactive: [],
        };
        this.workers.set(load.workerId, control);
      }
      const verdict = this.verdict(nowMs, load, control, byWorker.get(load.workerId) ?? [], unattributed);
      this.verdicts.set(load.workerId, verdict);
      const top = Math.min(this.o.ceiling, load.capacity ?? Number.POSITIVE_INFINITY);
      if (verdict === 'cut' || verdict === 'stop') {
        // from what batch work is using, when less than allowed (TCP cuts from the flight size, not the window)
        const cut = Math.min(control.limit, Math.max(load.batchInFlight, 1)) * this.o.decrease;
        control.limit = verdict === 'stop' ? this.o.floor : Math.max(this.o.floor, cut);
        control.slowStart = false;
        control.lastCutAt = nowMs;
      } else if (verdict === 'raise') {
        control.limit = control.slowStart ? Math.max(control.limit * 2, control.limit + 1) : control.limit + this.o.increase;
      }
      control.limit = clamp(control.limit, this.o.floor, Math.max(this.o.floor, top));
      out.set(load.workerId, Math.floor(control.limit));
    }
    return out;
  }

  limitFor(workerId: string): number {
    const control = this.workers.get(workerId);
    return Math.floor(control ? control.limit : this.o.initial);
  }

  /** The last update's verdict for the worker (undefined before it was seen). */
  verdictFor(workerId: string): Verdict | undefined {
    return this.verdicts.get(workerId);
  }

  /** Interactive TTFT and TPOT p99 over the window, all workers together (undefined: no sample). */
  p99(): { ttftMs?: number; tpotMs?: number } {
    return latencyP99(this.samples);
  }

  /**
   * Interactive demand rising on the worker faster than its latency can show it: the requests it runs now
   * exceed the fewest of the last `surgeWindowMs` by `surgeRise` of them (at least `surgeMin`). A request's
   * TTFT is known when it completes, seconds later, and a batch request admitted meanwhile brings a prefill
   * into every step for a while, so a step up in the interactive rate is met here, before the samples show it.
   */
  private surge(nowMs: number, load: WorkerLoad, control: WorkerControl): boolean {
    const n = Math.max(0, load.running - load.batchInFlight);
    const history = control.interactive;
    while (history.length > 0 && history[0].atMs < nowMs - this.o.surgeWindowMs) history.shift();
    const fewest = history.reduce((m, h) => Math.min(m, h.n), n);
    history.push({ atMs: nowMs, n });
    return this.o.surgeRise > 0 && n - fewest >= Math.max(this.o.surgeMin, this.o.surgeRise * fewest);
  }

  private verdict(
    nowMs: number,
    load: WorkerLoad,
    control: WorkerControl,
    served: readonly InteractiveSample[],
    unattributed: readonly InteractiveSample[],
  ): Verdict {
    const { objectives, headroom } = this.o;
    // Samples measured before the last cut say nothing about the limit since.
    const after = (s: InteractiveSample) => s.atMs > control.lastCutAt;
    const mine = served.filter(after);
    const own = unattributed.length === 0 ? mine : [...mine, ...unattributed.filter(after)];
    const p99 = latencyP99(own);
    const latency = Math.max(
      p99.ttftMs === undefined ? 0 : p99.ttftMs / objectives.ttftP99Ms,
      p99.tpotMs === undefined ? 0 : p99.tpotMs / objectives.tpotP99Ms,
    );
    // Long steps hurt only interactive requests running there (or just served there): at night they are batch's to take.
    const interactive = load.running > load.batchInFlight || mine.length > 0;
    const step =
      load.stepMs === undefined || !interactive
        ? 0
        : Math.max(load.stepMs / objectives.tpotP99Ms, (load.stepMs * this.o.firstTokenSteps) / objectives.ttftP99Ms);
    const kv = load.kvUsage === undefined ? 0 : load.kvUsage / this.o.kvHigh;
    const queued = load.waiting > this.o.waitingTolerance;
    const surge = this.surge(nowMs, load, control);

    // Batch work admitted before a cut still running above the limit: the cut has not acted yet (no
    // request is admitted meanwhile), so a deeper one would only delay the restart.
    const limit = Math.floor(control.limit);
    const acting = load.batchInFlight > limit;
    if (latency > 1) return acting ? 'hold' : 'cut';
    // A surge stops admission at once (to the floor), whatever is still running: see surge().
    if (surge) return 'stop';
    if (queued || step > 1 || kv >= 1) return !acting && nowMs - control.lastCutAt >= this.o.cutSpacingMs ? 'cut' : 'hold';
    if (nowMs - control.lastCutAt < this.o.holdAfterCutMs) return 'hold';
    // The limit grows only into room batch work is using (requests come and go: three quarters of it),
    // and not before a cut has acted.
    if (load.batchInFlight < 0.75 * limit || acting) return 'hold';
    // The first batch request back on a worker serving interactive requests brings its prefill into their
    // steps at once: it waits for more room than a further one (probeHeadroom), measured since the last cut.
    // Nor does a probe grow before samples taken since show what it cost.
    const probe = limit < 1 && interactive;
    if (probe && own.length === 0) return 'hold';
    if (interactive && control.probedAt > control.lastCutAt && !own.some((s) => s.atMs > control.probedAt)) return 'hold';
    const room = probe ? Math.min(headroom, this.o.probeHeadroom) : headroom;
    if (!(latency <= room && step <= room && kv <= room)) return 'hold';
    if (probe) control.probedAt = nowMs;
    return 'raise';
  }
}

/**
 * What admission may use until the next update: the controller's limits, but on a worker running other
 * requests (interactive ones, or other gateways' batch work) at most `perUpdate` batch requests more than
 * this gateway runs there now (a limit below that passes as it is). Raising a limit by several at once
 * would admit several long prompts together, whose prefills share the next steps with every interactive
 * first token there, before any signal of the first one's cost could come back; paced, each update adds
 * one and the next sees its effect. A worker running only this gateway's batch work has no first token
 * to protect: it fills at once (the night). Requests finishing meanwhile are replaced within the limit.
 */
export function pacedLimits(
  limits: ReadonlyMap<string, number>,
  workers: readonly WorkerLoad[],
  perUpdate = 1,
): ReadonlyMap<string, number> {
  const byId = new Map(workers.map((w) => [w.workerId, w]));
  const out = new Map<string, number>();
  for (const [id, limit] of limits) {
    const w = byId.get(id);
    const shared = w === undefined || w.running > w.batchInFlight;
    out.set(id, shared ? Math.min(limit, (w?.batchInFlight ?? 0) + perUpdate) : limit);
  }
  return out;
}

/** p99 (nearest rank) of the samples' TTFT and TPOT. */
export function latencyP99(samples: readonly InteractiveSample[]): { ttftMs?: number; tpotMs?: number } {
  const ttft = samples.map((s) => s.ttftMs);
  const tpot = samples.flatMap((s) => (s.tpotMs === undefined ? [] : [s.tpotMs]));
  return { ttftMs: quantile(ttft, 0.99), tpotMs: quantile(tpot, 0.99) };
}

function quantile(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  values.sort((a, b) => a - b);
  return values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)];
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

/** `GATEWAY_BATCH_OBJECTIVES`: model id → its interactive objectives; `*` for every other model. */
export type BatchObjectivesConfig = ReadonlyMap<string, BatchObjectives>;

/** TTFT p99 ≤ 1.5 s, TPOT p99 ≤ 80 ms: for models the configuration does not name. */
export const DEFAULT_BATCH_OBJECTIVES: BatchObjectives = { ttftP99Ms: 1500, tpotP99Ms: 80 };

export function objectivesFor(config: BatchObjectivesConfig, model: string): BatchObjectives {
  return config.get(model) ?? config.get('*') ?? DEFAULT_BATCH_OBJECTIVES;
}

/**
 * Parses `{"MODEL": {"ttftP99Ms": 1500, "tpotP99Ms": 80}, "*": {…}}`; a model giving one objective takes
 * the other from `*` (else the default). Throws naming the key and the bad entry.
 */
export function parseBatchObjectives(raw: string, key: string): BatchObjectivesConfig {
  const out = new Map<string, BatchObjectives>();
  if (raw.trim() === '') return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${key}: expected a JSON object of model → {"ttftP99Ms": ms, "tpotP99Ms": ms}, got ${JSON.stringify(raw)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${key}: expected a JSON object of model → {"ttftP99Ms": ms, "tpotP99Ms": ms}`);
  }
  const entries = Object.entries(parsed as Record<string, unknown>);
  const check = (model: string, value: unknown): Partial<BatchObjectives> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error(`${key}: ${JSON.stringify(model)} must be an object`);
    const o: Partial<BatchObjectives> = {};
    for (const [name, ms] of Object.entries(value as Record<string, unknown>)) {
      if (name !== 'ttftP99Ms' && name !== 'tpotP99Ms')
        throw new Error(`${key}: ${JSON.stringify(model)} has an unknown objective ${JSON.stringify(name)}`);
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
        throw new Error(`${key}: ${JSON.stringify(model)}.${name} must be a positive number of milliseconds, got ${JSON.stringify(ms)}`);
      }
      o[name] = ms;
    }
    return o;
  };
  const star = { ...DEFAULT_BATCH_OBJECTIVES, ...check('*', (parsed as Record<string, unknown>)['*'] ?? {}) };
  for (const [model, value] of entries) out.set(model, model === '*' ? star : { ...star, ...check(model, value) });
  return out;
}
