import { EngineEvent, EngineOptions, EngineRequest, EngineSnapshot, EngineState, FailureReason, SchedulingPolicy } from './engine-types';
import { FaultSpec, validateFaults } from './faults';
import { KvCache, PrefixKey } from './kv-cache';
import { decodeStepSeconds, EngineProfile, validateProfile } from './profile';
import { exponential, Rng, seededRng } from './rng';

interface Sequence {
  readonly id: string;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly keys: readonly PrefixKey[];
  readonly blocksPerKey: number;
  readonly arrivedAt: number;
  readonly priority: number;
  /** Submission order, breaking ties of (priority, arrival). */
  readonly order: number;
  readonly abortAfter: number;
  phase: 'waiting' | 'prefill' | 'decode' | 'done';
  generated: number;
  /** Tokens to compute before the next token can be sampled. */
  pendingPrefill: number;
  cachedTokens: number;
  privateBlocks: number;
  holdsKeys: boolean;
  firstTokenAt?: number;
}

/** One planned forward pass, or `steps` identical decode passes in a row. */
interface Step {
  readonly start: number;
  readonly steps: number;
  readonly decoders: readonly Sequence[];
  readonly prefills: ReadonlyArray<{ readonly seq: Sequence; readonly tokens: number }>;
  /** Seconds per step, context term excluded. */
  readonly base: number;
  /** Context tokens of the decoders at `start`; grows by one per decoder per step. */
  readonly context: number;
  /** Stall before the first step (latency spike). */
  readonly stall: number;
}

const NEVER = Number.POSITIVE_INFINITY;

/**
 * A vLLM-like engine in caller-supplied time: continuous batching, chunked prefill, prefix-cached
 * KV blocks, preemption. It never reads a clock; see the package doc for the driving contract.
 */
export class SimulatedEngine {
  readonly profile: EngineProfile;
  private readonly faults: FaultSpec;
  private readonly granularity: 'step' | 'request';
  private readonly policy: SchedulingPolicy;
  private submitted = 0;
  private readonly rng: Rng;
  private readonly kv: KvCache;
  private readonly ctxSecondsPerToken: number;
  private readonly readyAt: number;
  private state: EngineState;
  private readonly waiting: Sequence[] = [];
  private running: Sequence[] = [];
  private readonly live = new Map<string, Sequence>();
  private current: Step | undefined;
  /** When the next step may be planned (undefined: idle). */
  private pendingStart: number | undefined;
  private buffered: EngineEvent[] = [];
  private nextSpikeAt: number;
  private totals = {
    prefixCacheQueries: 0,
    prefixCacheHits: 0,
    promptTokens: 0,
    generationTokens: 0,
    requestsSubmitted: 0,
    requestsFinished: 0,
    requestsFailed: 0,
    requestsCancelled: 0,
    preemptions: 0,
  };

  constructor(options: EngineOptions) {
    this.profile = validateProfile(options.profile);
    this.faults = validateFaults(options.faults ?? {});
    this.granularity = options.granularity ?? 'request';
    this.policy = options.schedulingPolicy ?? 'fcfs';
    if (this.policy !== 'fcfs' && this.policy !== 'priority')
      throw new Error(`schedulingPolicy must be 'fcfs' or 'priority', got ${String(this.policy)}`);
    this.rng = seededRng(options.seed ?? 1);
    this.kv = new KvCache(this.profile.kvBlocks);
    this.ctxSecondsPerToken = this.profile.decodeMsPer1kContextTokens / 1e6;
    const startAt = options.startAt ?? 0;
    const startup = options.startupSeconds ?? this.profile.startupSeconds;
    if (!(startup >= 0)) throw new Error(`startupSeconds must be >= 0, got ${startup}`);
    this.readyAt = startAt + startup;
    this.state = 'starting';
    this.nextSpikeAt = this.faults.spikeEverySeconds ? startAt + exponential(this.rng, this.faults.spikeEverySeconds) : NEVER;
  }

  /** Queues a request arriving at `now`. Its events (and any failure) come out of `advance`. */
  submit(request: EngineRequest, now: number): void {
    const { id, promptTokens, outputTokens } = request;
    if (!(Number.isInteger(promptTokens) && promptTokens >= 1)) throw new Error(`request ${id}: promptTokens must be a positive integer`);
    if (!(Number.isInteger(outputTokens) && outputTokens >= 0))
      throw new Error(`request ${id}: outputTokens must be a non-negative integer`);
    const priority = request.priority ?? 0;
    if (!Number.isInteger(priority)) throw new Error(`request ${id}: priority must be an integer`);
    if (this.live.has(id)) throw new Error(`request ${id} is already in the engine`);
    // A newcomer can change the next batch only if it would not queue behind others anyway
    // (or, under the priority policy, if it is more urgent than something already there).
    const canJump = this.policy === 'priority' && [...this.running, ...this.waiting].some((s) => s.priority > priority);
    this.settle(now, canJump || (this.waiting.length === 0 && this.running.length < this.profile.maxNumSeqs));
    this.totals.requestsSubmitted += 1;
    const fail = (reason: FailureReason, message: string) => {
      this.totals.requestsFailed += 1;
      this.buffered.push({ type: 'failed', id, time: now, reason, message, outputTokens: 0 });
    };
    const injected = this.rng() < (this.faults.errorRate ?? 0);
    const abortDraw = this.rng();
    if (this.state === 'crashed') return fail('crashed', 'engine has crashed');
    if (injected) return fail('injected', 'injected server error');
    const needed = Math.ceil((promptTokens + outputTokens) / this.profile.blockSize);
    if (needed > this.profile.kvBlocks) {
      return fail(
        'too-long',
        `request needs ${needed} KV blocks (${promptTokens} prompt + ${outputTokens} output tokens); the engine has ${this.profile.kvBlocks}`,
      );
    }
    const { keys, blocksPerKey } = this.prefixKeys(request);
    const aborts = outputTokens > 1 && abortDraw < (this.faults.abortRate ?? 0);
    const seq: Sequence = {
      id,
      promptTokens,
      outputTokens,
      keys,
      blocksPerKey,
      arrivedAt: now,
      priority,
      order: this.submitted++,
      // Uniform over 1..output-1 tokens, reusing the draw so the sequence of draws stays fixed.
      abortAfter: aborts ? 1 + Math.floor((abortDraw / (this.faults.abortRate ?? 1)) * (outputTokens - 1)) : NEVER,
      phase: 'waiting',
      generated: 0,
      pendingPrefill: 0,
      cachedTokens: 0,
      privateBlocks: 0,
      holdsKeys: false,
    };
    this.live.set(id, seq);
    if (this.policy === 'priority') this.enqueueByPriority(seq);
    else this.waiting.push(seq);
    if (this.state === 'ready' && !this.current && this.pendingStart === undefined) this.pendingStart = now;
  }

  /** Removes a request (client went away), freeing its batch slot and blocks. False if unknown or done. */
  cancel(id: string, now: number): boolean {
    this.settle(now, true);
    const seq = this.live.get(id);
    if (!seq) return false;
    if (seq.phase === 'waiting') this.waiting.splice(this.waiting.indexOf(seq), 1);
    else this.running = this.running.filter((s) => s !== seq);
    this.retire(seq);
    this.totals.requestsCancelled += 1;
    if (!this.current && this.pendingStart === undefined && this.hasWork() && this.state === 'ready') this.pendingStart = now;
    return true;
  }

  /** The process dies at `now`: everything in flight fails, the cache is lost, later submissions fail. */
  crash(now: number, message = 'engine crashed'): void {
    this.settle(now, true);
    this.crashAt(now, message);
  }

  /** When `advance` next has something to report; undefined when idle (or crashed) with nothing pending. */
  nextEventTime(): number | undefined {
    if (this.buffered.length > 0) return this.buffered[0].time;
    if (this.state === 'crashed') return undefined;
    if (this.state === 'starting') return this.readyAt;
    if (this.current) return this.current.start + this.elapsed(this.current, this.current.steps);
    return this.pendingStart;
  }

  /** Runs every step that ends at or before `now`; returns the events in time order. */
  advance(now: number): EngineEvent[] {
    this.run(now, true, false);
    const out = this.buffered;
    this.buffered = [];
    return out;
  }

  /** Counters and gauges; with `now`, brought up to that time first (events wait for `advance`). */
  snapshot(now?: number): EngineSnapshot {
    if (now !== undefined) this.settle(now, false);
    const used = this.kv.usedBlocks;
    return {
      state: this.state,
      running: this.running.length,
      waiting: this.waiting.length,
      maxNumSeqs: this.profile.maxNumSeqs,
      kvBlocks: this.profile.kvBlocks,
      kvBlocksUsed: used,
      kvBlocksCached: this.kv.cachedBlocks,
      kvUsage: used / this.profile.kvBlocks,
      ...this.totals,
    };
  }

  /** Tokens of this prompt that would be served from the prefix cache right now (for affinity routing). */
  cachedPrefixTokens(request: Pick<EngineRequest, 'promptTokens' | 'prefix'>): number {
    const { keys, blockTokens } = this.prefixKeys(request);
    return Math.min(this.kv.matchPrefix(keys) * blockTokens, request.promptTokens - 1);
  }

  // ---- time keeping -------------------------------------------------------------------------

  /** Applies finished steps up to `now`; with `split`, cuts a merged run at the step in flight so the batch can change. */
  private settle(now: number, split: boolean): void {
    this.run(now, false, split);
  }

  private run(now: number, planAtNow: boolean, split: boolean): void {
    for (;;) {
      if (this.state === 'crashed') return;
      if (this.state === 'starting') {
        if (this.readyAt > now) return;
        this.state = 'ready';
        this.buffered.push({ type: 'ready', time: this.readyAt });
        if (this.hasWork()) this.pendingStart = this.readyAt;
      }
      const step = this.current;
      if (step) {
        const end = step.start + this.elapsed(step, step.steps);
        if (end <= now) {
          this.current = undefined;
          this.apply(step, step.steps, end);
          if (this.state === 'ready' && this.hasWork()) this.pendingStart = end;
          continue;
        }
        if (step.steps > 1) this.applyPartly(step, now, split);
        return;
      }
      if (this.pendingStart === undefined) return;
      if (this.pendingStart > now || (this.pendingStart === now && !planAtNow)) return;
      const start = this.pendingStart;
      this.pendingStart = undefined;
      this.current = this.plan(start);
    }
  }

  /** Applies the whole steps of a merged run done by `now`; keeps the rest (or, with `split`, only the step in flight). */
  private applyPartly(step: Step, now: number, split: boolean): void {
    let lo = 0;
    let hi = step.steps - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (step.start + this.elapsed(step, mid) <= now) lo = mid;
      else hi = mid - 1;
    }
    const done = lo;
    const boundary = step.start + this.elapsed(step, done);
    if (done > 0) this.apply(step, done, boundary);
    // The pass in flight holds its blocks already, as the scheduler took them when it planned it.
    for (const seq of step.decoders) if (seq.phase === 'decode') this.grow(seq, seq.generated + 1);
    const left = step.steps - done;
    // A run planned at this very instant keeps its first pass, as a single planned pass would.
    if (split && done > 0 && boundary === now) {
      this.current = undefined;
      this.pendingStart = now;
      return;
    }
    // Cancelled decoders stay listed: the pass in flight was sized with them.
    this.current = {
      ...step,
      start: boundary,
      steps: split ? 1 : left,
      context: step.context + step.decoders.length * done,
      stall: done > 0 ? 0 : step.stall,
    };
  }

  /** Seconds from a step's start to the end of its `n`-th pass. */
  private elapsed(step: Step, n: number): number {
    if (n === 0) return 0;
    const b = step.decoders.length;
    const prefill = step.prefills.reduce((sum, p) => sum + p.tokens, 0) / this.profile.prefillTokensPerSecond;
    return step.stall + prefill + n * step.base + this.ctxSecondsPerToken * (n * step.context + (b * n * (n - 1)) / 2);
  }

  // ---- scheduling ---------------------------------------------------------------------------

  /** vLLM's scheduler, once: grow decoders (preempting the newest if blocks run out), continue prefills, admit FIFO. */
  private plan(start: number): Step | undefined {
    const p = this.profile;
    // Preempted sequences leave the list (phase 'waiting') and are skipped.
    for (const seq of [...this.running]) {
      if (seq.phase !== 'decode') continue;
      while (!this.grow(seq, seq.generated + 1)) {
        const victim = this.policy === 'priority' ? this.leastUrgentRunning() : this.running[this.running.length - 1];
        this.preempt(victim, start);
        if (victim === seq) break;
      }
    }
    if (this.policy === 'priority') this.makeRoomForUrgent(start);
    let budget = p.maxBatchedTokens;
    const decoders = this.running.filter((s) => s.phase === 'decode');
    budget -= decoders.length;
    const prefills: Array<{ seq: Sequence; tokens: number }> = [];
    const longPrefill = p.longPrefillTokenThreshold || Number.POSITIVE_INFINITY;
    const chunk = (seq: Sequence) => {
      const tokens = Math.min(seq.pendingPrefill, budget, longPrefill);
      prefills.push({ seq, tokens });
      budget -= tokens;
    };
    const admitHead = (): boolean => {
      const seq = this.waiting[0];
      if (this.running.length >= p.maxNumSeqs || budget <= 0 || !this.admit(seq, start)) return false;
      this.waiting.shift();
      this.running.push(seq);
      chunk(seq);
      return true;
    };
    // Under the priority policy the budget goes in urgency order (vLLM sorts its queues by priority), so an
    // urgent prompt is not left behind the chunks of long, less urgent ones; fcfs keeps running-then-waiting order.
    const partial = this.running.filter((s) => s.phase === 'prefill');
    if (this.policy === 'priority') partial.sort((a, b) => this.compareUrgency(a, b));
    let admitting = true;
    for (const seq of partial) {
      while (admitting && this.policy === 'priority' && this.waiting.length > 0 && this.compareUrgency(this.waiting[0], seq) < 0)
        admitting = admitHead();
      if (budget <= 0) break;
      chunk(seq);
    }
    while (admitting && this.waiting.length > 0) admitting = admitHead();
    if (decoders.length === 0 && prefills.length === 0) return undefined;
    const context = decoders.reduce((sum, s) => sum + s.promptTokens + s.generated, 0);
    const base = decodeStepSeconds(p, decoders.length);
    const stall = this.stallAt(start);
    const step: Step = { start, steps: 1, decoders, prefills, base, context, stall };
    if (this.granularity === 'step' || prefills.length > 0) return step;
    const steps = this.kvLimitedSteps(decoders, Math.min(...decoders.map((s) => Math.min(s.outputTokens, s.abortAfter) - s.generated)));
    return { ...step, steps: Math.min(steps, this.stepsBeforeSpike({ ...step, steps })) };
  }

  /** Passes of a merged run until the one that would start at or after the next spike. */
  private stepsBeforeSpike(step: Step): number {
    if (this.nextSpikeAt === NEVER) return step.steps;
    let lo = 1;
    let hi = step.steps;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (step.start + this.elapsed(step, mid) >= this.nextSpikeAt) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Takes blocks for the head of the queue and looks up its prefix; false if they do not fit. */
  private admit(seq: Sequence, now: number): boolean {
    const p = this.profile;
    const hitKeys = this.kv.matchPrefix(seq.keys);
    const blockTokens = seq.blocksPerKey * p.blockSize;
    const context = seq.promptTokens + seq.generated;
    // vLLM always recomputes at least the last prompt token, to get its logits.
    const cached = Math.min(hitKeys * blockTokens, Math.floor((seq.promptTokens - 1) / blockTokens) * blockTokens);
    const privateBlocks = Math.max(0, this.blocksFor(seq, seq.generated + 1) - seq.keys.length * seq.blocksPerKey);
    if (this.kv.referenceCost(seq.keys, seq.blocksPerKey) + privateBlocks > this.kv.availableBlocks) return false;
    this.kv.reference(seq.keys, seq.blocksPerKey);
    this.kv.allocate(privateBlocks);
    seq.holdsKeys = true;
    seq.privateBlocks = privateBlocks;
    seq.cachedTokens = cached;
    seq.pendingPrefill = context - cached;
    seq.phase = 'prefill';
    this.totals.prefixCacheQueries += seq.promptTokens;
    this.totals.prefixCacheHits += cached;
    this.buffered.push({ type: 'started', id: seq.id, time: now, cachedTokens: cached });
    return true;
  }

  /** Blocks a sequence holds once `tokens` of its output exist (the final token's KV is never written). */
  private blocksFor(seq: Sequence, tokens: number): number {
    const context = seq.promptTokens + Math.min(tokens, Math.max(0, seq.outputTokens - 1));
    return Math.ceil(context / this.profile.blockSize);
  }

  /** Makes `seq` hold the blocks for `tokens` generated tokens; false if they do not fit. */
  private grow(seq: Sequence, tokens: number): boolean {
    const extra = this.blocksFor(seq, tokens) - seq.keys.length * seq.blocksPerKey - seq.privateBlocks;
    if (extra <= 0) return true;
    if (!this.kv.allocate(extra)) return false;
    seq.privateBlocks += extra;
    return true;
  }

  /** Longest run of identical decode steps whose block growth fits in the free pool. */
  private kvLimitedSteps(decoders: readonly Sequence[], limit: number): number {
    const extraFor = (n: number) =>
      decoders.reduce(
        (sum, s) => sum + Math.max(0, this.blocksFor(s, s.generated + n) - s.keys.length * s.blocksPerKey - s.privateBlocks),
        0,
      );
    const available = this.kv.availableBlocks;
    if (extraFor(limit) <= available) return limit;
    let lo = 1;
    let hi = limit;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (extraFor(mid) <= available) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Under the priority policy: evicts less urgent running sequences while the head of the queue, more urgent, has no room. */
  private makeRoomForUrgent(now: number): void {
    const head = this.waiting[0];
    if (!head) return;
    while (this.running.length > 0 && (this.running.length >= this.profile.maxNumSeqs || !this.fits(head))) {
      const victim = this.leastUrgentRunning();
      if (!(victim.priority > head.priority)) return;
      this.preempt(victim, now);
    }
  }

  /** The running sequence vLLM's priority scheduler evicts first: highest priority value, then latest arrival. */
  private leastUrgentRunning(): Sequence {
    let worst = this.running[0];
    for (const seq of this.running) if (this.compareUrgency(seq, worst) > 0) worst = seq;
    return worst;
  }

  /** Negative when `a` is more urgent than `b`: by priority, then arrival, then submission. */
  private compareUrgency(a: Sequence, b: Sequence): number {
    return a.priority - b.priority || a.arrivedAt - b.arrivedAt || a.order - b.order;
  }

  /** Inserts into the waiting queue kept sorted by urgency (stable for equals). */
  private enqueueByPriority(seq: Sequence): void {
    let i = this.waiting.length;
    while (i > 0 && this.compareUrgency(this.waiting[i - 1], seq) > 0) i -= 1;
    this.waiting.splice(i, 0, seq);
  }

  /** Whether `seq` could be admitted now, as far as KV blocks go. */
  private fits(seq: Sequence): boolean {
    const privateBlocks = Math.max(0, this.blocksFor(seq, seq.generated + 1) - seq.keys.length * seq.blocksPerKey);
    return this.kv.referenceCost(seq.keys, seq.blocksPerKey) + privateBlocks <= this.kv.availableBlocks;
  }

  private preempt(seq: Sequence, now: number): void {
    this.running = this.running.filter((s) => s !== seq);
    this.releaseBlocks(seq);
    seq.phase = 'waiting';
    seq.pendingPrefill = 0;
    if (this.policy === 'priority') this.enqueueByPriority(seq);
    else this.waiting.unshift(seq);
    this.totals.preemptions += 1;
    this.buffered.push({ type: 'preempted', id: seq.id, time: now });
  }

  /** Seconds the step starting at `start` stalls: the overlap with a latency spike, if any. */
  private stallAt(start: number): number {
    const every = this.faults.spikeEverySeconds;
    const length = this.faults.spikeSeconds ?? 0;
    if (!every) return 0;
    // Spikes that came and went while the engine was idle hurt nobody.
    while (this.nextSpikeAt + length <= start) this.nextSpikeAt += exponential(this.rng, every);
    if (this.nextSpikeAt > start) return 0;
    const stall = this.nextSpikeAt + length - start;
    this.nextSpikeAt += length + exponential(this.rng, every);
    return stall;
  }

  // ---- applying steps -----------------------------------------------------------------------

  /** The effects of the first `n` passes of `step`, all reported at `time`. */
  private apply(step: Step, n: number, time: number): void {
    // Blocks are taken before any sequence finishes in this pass, as the scheduler took them when planning it.
    for (const seq of step.decoders) if (seq.phase === 'decode') this.grow(seq, seq.generated + n);
    for (const { seq, tokens } of step.prefills) {
      if (seq.phase !== 'prefill') continue;
      seq.pendingPrefill -= tokens;
      if (seq.pendingPrefill > 0) continue;
      seq.phase = 'decode';
      if (seq.outputTokens === 0) {
        this.totals.promptTokens += seq.promptTokens;
        this.finish(seq, time);
        continue;
      }
      if (seq.generated === 0) {
        this.totals.promptTokens += seq.promptTokens;
        seq.firstTokenAt = time;
        this.buffered.push({ type: 'first-token', id: seq.id, time, arrivedAt: seq.arrivedAt });
      } else {
        this.buffered.push({ type: 'tokens', id: seq.id, time, count: 1 });
      }
      seq.generated += 1;
      this.totals.generationTokens += 1;
      this.afterTokens(seq, time);
    }
    for (const seq of step.decoders) {
      if (seq.phase !== 'decode') continue;
      seq.generated += n;
      this.totals.generationTokens += n;
      this.buffered.push({ type: 'tokens', id: seq.id, time, count: n });
      this.afterTokens(seq, time);
    }
  }

  private afterTokens(seq: Sequence, time: number): void {
    if (seq.generated >= seq.outputTokens) this.finish(seq, time);
    else if (seq.generated >= seq.abortAfter) this.failRunning(seq, time, 'aborted', 'injected failure during generation');
  }

  private finish(seq: Sequence, time: number): void {
    this.running = this.running.filter((s) => s !== seq);
    this.retire(seq);
    this.totals.requestsFinished += 1;
    this.buffered.push({
      type: 'finished',
      id: seq.id,
      time,
      arrivedAt: seq.arrivedAt,
      firstTokenAt: seq.firstTokenAt,
      promptTokens: seq.promptTokens,
      outputTokens: seq.generated,
      cachedTokens: seq.cachedTokens,
    });
    const crashAfter = this.faults.crashAfterRequests;
    if (crashAfter !== undefined && this.totals.requestsFinished >= crashAfter) {
      this.crashAt(time, `engine crashed after ${crashAfter} requests (injected)`);
    }
  }

  private failRunning(seq: Sequence, time: number, reason: FailureReason, message: string): void {
    this.running = this.running.filter((s) => s !== seq);
    this.retire(seq);
    this.totals.requestsFailed += 1;
    this.buffered.push({ type: 'failed', id: seq.id, time, reason, message, outputTokens: seq.generated });
  }

  private crashAt(time: number, message: string): void {
    if (this.state === 'crashed') return;
    this.state = 'crashed';
    this.buffered.push({ type: 'crashed', time, message });
    this.current = undefined;
    this.pendingStart = undefined;
    for (const seq of [...this.running, ...this.waiting]) this.failRunning(seq, time, 'crashed', message);
    this.running = [];
    this.waiting.length = 0;
    this.kv.clear();
  }

  private retire(seq: Sequence): void {
    this.releaseBlocks(seq);
    seq.phase = 'done';
    this.live.delete(seq.id);
  }

  private releaseBlocks(seq: Sequence): void {
    if (seq.holdsKeys) this.kv.release(seq.keys);
    this.kv.free(seq.privateBlocks);
    seq.holdsKeys = false;
    seq.privateBlocks = 0;
  }

  private hasWork(): boolean {
    return this.running.length > 0 || this.waiting.length > 0;
  }

  /** Full prompt blocks as cache keys, in units the engine's blocks divide. */
  private prefixKeys(request: Pick<EngineRequest, 'promptTokens' | 'prefix'>): {
    keys: readonly PrefixKey[];
    blocksPerKey: number;
    blockTokens: number;
  } {
    const bs = this.profile.blockSize;
    const prefix = request.prefix;
    if (!prefix || prefix.hashes.length === 0) return { keys: [], blocksPerKey: 1, blockTokens: bs };
    if (!(Number.isInteger(prefix.blockTokens) && prefix.blockTokens > 0 && prefix.blockTokens % bs === 0)) {
      throw new Error(`prefix.blockTokens must be a positive multiple of the block size ${bs}, got ${prefix.blockTokens}`);
    }
    const full = Math.floor(request.promptTokens / prefix.blockTokens);
    return { keys: prefix.hashes.slice(0, full), blocksPerKey: prefix.blockTokens / bs, blockTokens: prefix.blockTokens };
  }
}
