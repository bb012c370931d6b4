import { Endpoint, queuedRequests, RoutingRequest } from '../endpoint';
import { Scorer } from '../plugin';
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

/** Prefill tokens this router sent a worker that it has not worked off yet, as of `atMs`. */
interface Backlog {
  tokens: number;
  atMs: number;
}

/** What the scorer remembers between requests: per worker, the prefill it was sent and has not done. */
export class PrefillBacklog {
  private readonly byEndpoint = new Map<string, Backlog>();
  /** Mean uncached prompt tokens of the requests routed so far: what a request in someone else's queue is worth. */
  private meanTokens = 0;
  private routed = 0;

  /** Tokens still to prefill on `e` at `nowMs`: ours drained at the worker's pace, at least its queue at our mean. */
  pending(e: Endpoint, nowMs: number, tokensPerSecond: number, slowdown: number): number {
    const b = this.byEndpoint.get(e.id);
    // An endpoint with nothing of ours outstanding has worked off everything we sent it.
    const ours =
      !b || e.outstanding === 0 ? 0 : Math.max(0, b.tokens - (tokensPerSecond / slowdown) * (Math.max(0, nowMs - b.atMs) / 1000));
    return Math.max(ours, queuedRequests(e) * this.meanTokens);
  }

  add(e: Endpoint, tokens: number, nowMs: number, tokensPerSecond: number, slowdown: number): void {
    this.byEndpoint.set(e.id, { tokens: this.pending(e, nowMs, tokensPerSecond, slowdown) + tokens, atMs: nowMs });
    this.routed += 1;
    this.meanTokens += (tokens - this.meanTokens) / this.routed;
  }
}

/** Nothing of ours outstanding, nothing running or waiting as last heard, and KV to take a prompt. */
export function isIdle(e: Endpoint): boolean {
  return e.outstanding === 0 && e.running === 0 && e.waiting === 0 && e.kvCacheUsage < 1;
}

/** A queued worker predicting no earlier first token than an idle one scores at most this share of the idle one's: beyond the pickers' tie margin. */
const YIELD = 1 - 1e-6;

export interface PredictedTtftParams {
  readonly index: PrefixIndex;
  readonly backlog: PrefillBacklog;
  readonly blockTokens: number;
  readonly prefillTokensPerSecond: number;
  readonly decodeSlowdown: number;
}

/**
 * Each worker's time to first token for this request, predicted (after llm-d's predicted-latency
 * scheduling, with a fixed model instead of a trained one): the prefill queued before it, plus its
 * own prompt less the prefix the worker holds, at the worker's prefill rate, slowed by the decode
 * batch running beside it. The score is the best prediction over this one's: 1 for the fastest.
 * A prefix hit lowers a worker's cost by the prefill it saves, so it wins while its queue costs less
 * than that, and loses to an idle worker once the queue costs more: hits never override load.
 * The prefill rate is the same for every worker (the heartbeat does not carry a measured one yet),
 * so it only sets how fast a backlog drains between requests, not the ranking at one instant.
 */
export function predictedTtftScorer({ index, backlog, blockTokens, prefillTokensPerSecond, decodeSlowdown }: PredictedTtftParams) {
  const busy = (e: Endpoint) => Math.min(1, Math.max(e.running, e.outstanding) / Math.max(1, e.capacity));
  const slowdown = (e: Endpoint) => 1 + decodeSlowdown * busy(e);
  // A whole hit still computes the prompt's last token (engines never serve all of it from cache), so
  // a busier holder never ties with an idle one at 0 s.
  const uncachedTokens = (req: RoutingRequest, e: Endpoint) =>
    Math.max(1, (req.prefixBlocks.length - index.matchLength(e.id, req.prefixBlocks)) * blockTokens);
  /** Seconds until the first token of `req` on `e`, and whether it would wait behind prefill or a queue. */
  const predict = (req: RoutingRequest, e: Endpoint) => {
    const s = slowdown(e);
    const pending = backlog.pending(e, req.arrivedAt, prefillTokensPerSecond, s);
    return { seconds: ((pending + uncachedTokens(req, e)) / prefillTokensPerSecond) * s, queued: pending > 0 };
  };
  // One block's prefill: keeps the ratio finite when the best worker would answer at once.
  const floor = blockTokens / prefillTokensPerSecond;
  return {
    name: 'predicted-ttft',
    reads: ['id', 'running', 'waiting', 'outstanding', 'capacity', 'kvCacheUsage'],
    score: (req, endpoints) => {
      const predicted = endpoints.map((e) => predict(req, e));
      const best = Math.min(...predicted.map((p) => p.seconds));
      // While a worker idles, one with a queue wins only by a first token predicted earlier than the idle
      // one's (its prefix saving outweighs its queue); on a tie, the idle one does.
      const idle = predicted.reduce((min, p, i) => (isIdle(endpoints[i]) ? Math.min(min, p.seconds) : min), Infinity);
      const idleScore = (best + floor) / (idle + floor);
      return new Map(
        endpoints.map((e, i) => {
          const { seconds, queued } = predicted[i];
          const score = (best + floor) / (seconds + floor);
          return [e.id, queued && seconds >= idle ? Math.min(score, idleScore * YIELD) : score];
        }),
      );
    },
    onPicked: (req, e) => {
      backlog.add(e, uncachedTokens(req, e), req.arrivedAt, prefillTokensPerSecond, slowdown(e));
      index.record(e.id, req.prefixBlocks);
    },
  } satisfies Scorer;
}
