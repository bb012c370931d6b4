import { Endpoint, isIdle, queuedRequests, RoutingRequest, runningRequests } from '../endpoint';
import { Scorer, scoresFrom } from '../plugin';
import { PrefixIndex } from '../prefix/prefix-index';

/** Prompt tokens one block of `promptBlocks()` stands for: 256 characters, about 64 tokens. */
export const DEFAULT_BLOCK_TOKENS = 64;
/** An A100 prefilling a 3B model; only the drain of the backlog between requests depends on it (see below). */
export const DEFAULT_PREFILL_TOKENS_PER_SECOND = 20_000;
/**
 * A full running batch makes a first token take this much longer again: the prefill shares the GPU with the
 * decode steps, and a short prompt waits through whole steps of the batch (long with long contexts). At 0.5,
 * conversation turns queued behind their session's holder, 70 sequences running, while another worker idled
 * (bench:routing --sweep, conversation ×16: 1,628 such picks, TTFT p99 0.268 s); at 4, 424 and 0.152 s.
 */
export const DEFAULT_DECODE_SLOWDOWN = 4;
/**
 * The engine step in flight when a request reaches a busy worker, beyond the prefill the gateway
 * predicts: a decode pass of a few dozen long-context sequences, or the prefill of a prompt's tail
 * past its last full block (which has no block hash). Longer steps (0.11 s: a whole 2,048-token
 * chunk) gave up 3–4 points of the Mooncake trace's hits for no fewer picks of a queued worker; at
 * 0 some remained (bench:routing --sweep, the conversation trace at 16 workers).
 */
export const DEFAULT_STEP_SECONDS = 0.02;

/** Prefill tokens this router sent a worker that it has not worked off yet, as of `atMs`. */
interface Backlog {
  tokens: number;
  atMs: number;
  /** When the last request we sent it is predicted to start (be admitted into the running batch). */
  startsByMs: number;
}

/** What the scorer remembers between requests: per worker, the prefill it was sent and has not done. */
export class PrefillBacklog {
  private readonly byEndpoint = new Map<string, Backlog>();
  /** Mean uncached prompt tokens of the requests routed so far: what a request in someone else's queue is worth. */
  private meanTokens = 0;
  private routed = 0;

  /** What a request in someone else's queue is worth, in prompt tokens. */
  get tokensPerQueued(): number {
    return this.meanTokens;
  }

  /** Tokens of ours still to prefill on a worker with `outstanding` requests of ours, drained at `tokensPerSecond / slowdown` until `nowMs`. */
  ours(id: string, outstanding: number, nowMs: number, tokensPerSecond: number, slowdown: number): number {
    // An endpoint with nothing of ours outstanding has worked off everything we sent it (and is not looked up).
    const b = outstanding === 0 ? undefined : this.byEndpoint.get(id);
    return !b ? 0 : Math.max(0, b.tokens - (tokensPerSecond / slowdown) * (Math.max(0, nowMs - b.atMs) / 1000));
  }

  /** Tokens still to prefill on `e` at `nowMs`: ours drained at the worker's pace, at least its queue at our mean. */
  pending(e: Endpoint, nowMs: number, tokensPerSecond: number, slowdown: number): number {
    return Math.max(this.ours(e.id, e.outstanding, nowMs, tokensPerSecond, slowdown), queuedRequests(e) * this.meanTokens);
  }

  /** True while a request we sent `id` is predicted not to have started yet (one sent this very instant has not): the worker has a queue. */
  hasWaiting(id: string, outstanding: number, nowMs: number): boolean {
    const b = outstanding === 0 ? undefined : this.byEndpoint.get(id);
    return b !== undefined && nowMs <= b.startsByMs;
  }

  /**
   * Records `tokens` of prefill sent to `e` at `nowMs`. Sent to an idle worker, the request starts at
   * its next step, at once; to a busy one, after the engine step in flight (`stepMs`: the gateway does
   * not see step boundaries) and the prefill pending before it.
   */
  add(e: Endpoint, tokens: number, nowMs: number, tokensPerSecond: number, slowdown: number, stepMs: number): void {
    const ahead = this.pending(e, nowMs, tokensPerSecond, slowdown);
    const startsByMs = isIdle(e) ? nowMs : nowMs + stepMs + (ahead / tokensPerSecond) * slowdown * 1000;
    const b = this.byEndpoint.get(e.id);
    if (b) {
      b.tokens = ahead + tokens;
      b.atMs = nowMs;
      b.startsByMs = Math.max(b.startsByMs, startsByMs);
    } else this.byEndpoint.set(e.id, { tokens: ahead + tokens, atMs: nowMs, startsByMs });
    this.routed += 1;
    this.meanTokens += (tokens - this.meanTokens) / this.routed;
  }
}

/** A worker yielding to an idle one scores at most this share of the best idle one's: beyond the pickers' tie margin. */
const YIELD = 1 - 1e-6;

export interface PredictedTtftParams {
  readonly index: PrefixIndex;
  readonly backlog: PrefillBacklog;
  readonly blockTokens: number;
  readonly prefillTokensPerSecond: number;
  readonly decodeSlowdown: number;
  readonly stepSeconds: number;
}

/**
 * Each worker's time to first token for this request, predicted (after llm-d's predicted-latency
 * scheduling, with a fixed model instead of a trained one): the prefill queued before it, plus its
 * own prompt less the prefix the worker holds, at the worker's prefill rate, slowed by the decode
 * batch running beside it. The score is the best prediction over this one's: 1 for the fastest.
 * A prefix hit lowers a worker's cost by the prefill it saves, so it wins while its queue costs less
 * than that.
 *
 * While some worker idles, a worker with a queue scores below the best idle one, however much its
 * prefix would save: no request is sent to wait behind others while a worker has nothing to do. A
 * worker has a queue, as far as the gateway can tell at pick time, when its heartbeat shows one (or
 * our requests exceed its capacity), or when a request we sent it is predicted not to have started:
 * sent while it was busy, it waits for the engine step in flight (`stepSeconds`: the gateway sees no
 * step boundaries) and the prefill we sent before it. A worker only prefilling, nothing waiting,
 * still wins on prediction when its prefix saves more than its prefill costs (the idle worker wins
 * ties): yielding then too gave up the Mooncake trace's hits (82–88 % of the oracle's). Idleness is as exact as the endpoint's load: live with
 * `outstandingAtHeartbeat`, up to a heartbeat stale without it.
 * The rule is part of this scorer, not a filter, because the queue it reads is the backlog learned
 * from this scorer's picks; alone in a preset (predicted-ttft) the cap decides the pick.
 * The prefill rate is the same for every worker (the heartbeat does not carry a measured one yet),
 * so it only sets how fast a backlog drains between requests, not the ranking at one instant.
 */
export function predictedTtftScorer({
  index,
  backlog,
  blockTokens,
  prefillTokensPerSecond,
  decodeSlowdown,
  stepSeconds,
}: PredictedTtftParams) {
  const stepMs = stepSeconds * 1000;
  const PREFILLING = 1;
  const QUEUED = 2;
  const busy = (e: Endpoint) => Math.min(1, Math.max(runningRequests(e), e.outstanding) / Math.max(1, e.capacity));
  const slowdown = (e: Endpoint) => 1 + decodeSlowdown * busy(e);
  // A whole hit still computes the prompt's last token (engines never serve all of it from cache), so
  // a busier holder never ties with an idle one at 0 s.
  const uncachedOf = (blocks: number, hit: number) => Math.max(1, (blocks - hit) * blockTokens);
  // One block's prefill: keeps the ratio finite when the best worker would answer at once.
  const floor = blockTokens / prefillTokensPerSecond;
  /** Per position, the predicted seconds and the worker's load (PREFILLING, QUEUED or 0); kept between requests. */
  let seconds = new Float64Array(64);
  let load = new Uint8Array(64);
  /**
   * Seconds until the first token of `req` on each endpoint (the prefill pending before it, then its
   * prompt less the prefix it holds, at the prefill rate, slowed by its decode batch); the score is
   * the best over its own. Prefix hits come from one pass of the index over the request's blocks.
   */
  const scoreInto = (req: RoutingRequest, endpoints: readonly Endpoint[], out: Float64Array) => {
    const n = endpoints.length;
    if (seconds.length < n) {
      seconds = new Float64Array(Math.max(n, 2 * seconds.length));
      load = new Uint8Array(seconds.length);
    }
    const blocks = req.prefixBlocks.length;
    const hits = blocks === 0 ? undefined : index.matchLengths(req.prefixBlocks);
    const lookUp = hits !== undefined && hits.size > 0;
    const now = req.arrivedAt;
    const mean = backlog.tokensPerQueued;
    let best = Infinity;
    let idle = Infinity;
    for (let i = 0; i < n; i++) {
      // slowdown(e), backlog.pending(e) and isIdle(e) with each field read once
      const e = endpoints[i];
      const outstanding = e.outstanding;
      const capacity = e.capacity;
      let runningNow: number;
      let queuedNow: number;
      let idleNow: boolean;
      if (e.outstandingAtHeartbeat === undefined) {
        const running = e.running;
        const waiting = e.waiting;
        runningNow = running;
        queuedNow = Math.max(0, waiting, outstanding - capacity);
        idleNow = outstanding === 0 && running === 0 && waiting === 0 && e.kvCacheUsage < 1;
      } else {
        runningNow = runningRequests(e);
        queuedNow = queuedRequests(e);
        idleNow = isIdle(e);
      }
      const s = 1 + decodeSlowdown * Math.min(1, Math.max(runningNow, outstanding) / Math.max(1, capacity));
      const pending = Math.max(backlog.ours(e.id, outstanding, now, prefillTokensPerSecond, s), queuedNow * mean);
      const t = ((pending + uncachedOf(blocks, lookUp ? (hits.get(e.id) ?? 0) : 0)) / prefillTokensPerSecond) * s;
      best = Math.min(best, t);
      if (idleNow) idle = Math.min(idle, t);
      seconds[i] = t;
      load[i] = queuedNow > 0 || backlog.hasWaiting(e.id, outstanding, now) ? QUEUED : pending > 0 ? PREFILLING : 0;
    }
    // While a worker idles, one with a queue scores below the best idle one, whatever its prefix saves;
    // one prefilling wins only by an earlier first token than the idle one's (a tie goes to the idle one).
    const idleScore = (best + floor) / (idle + floor);
    for (let i = 0; i < n; i++) {
      const t = seconds[i];
      const score = (best + floor) / (t + floor);
      const yields = idle < Infinity && (load[i] === QUEUED || (load[i] === PREFILLING && t >= idle));
      out[i] = yields ? Math.min(score, idleScore * YIELD) : score;
    }
  };
  return {
    name: 'predicted-ttft',
    reads: ['id', 'running', 'waiting', 'outstanding', 'capacity', 'kvCacheUsage'],
    score: (req, endpoints) => scoresFrom(req, endpoints, scoreInto),
    scoreInto,
    onPicked: (req, e) => {
      const uncached = uncachedOf(req.prefixBlocks.length, index.matchLength(e.id, req.prefixBlocks));
      backlog.add(e, uncached, req.arrivedAt, prefillTokensPerSecond, slowdown(e), stepMs);
      index.record(e.id, req.prefixBlocks);
    },
  } satisfies Scorer;
}
