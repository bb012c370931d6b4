import { seededRng } from '../lib/arrivals';
import { blockIds, exponential, logNormal } from './draws';
import { TRACE_BLOCK_TOKENS, TraceRequest } from './trace';

/**
 * A skewed-popularity trace: single-turn requests (Poisson arrivals) whose prompts start with one of
 * many shared prefixes (system prompts, few-shot templates, documents asked about) drawn with Zipf
 * popularity, so a few prefixes are very hot and most are rare, plus a share of one-off prompts that
 * share nothing (the long tail no cache helps with). A hot prefix brings more work than one worker
 * can prefill, so affinity must spread it over several holders while keeping the rare ones together.
 * Seeded: the same spec gives the same trace.
 *
 * Defaults and why: 2,000 prefixes with Zipf exponent 1.1 (the hottest takes ~19 % of the requests
 * that use a prefix and the top 10 ~50 %, as in measured prompt-popularity studies; half the
 * catalogue is seen only a few times); 30 % one-off prompts; prefix lengths log-normal around 3,072
 * tokens, drawn once per prefix, then 384 tokens of the request's own and 200 output tokens on average.
 */
export interface SkewedSpec {
  readonly seed: number;
  /** Arrivals per second (a Poisson process). */
  readonly requestsPerSecond: number;
  readonly durationSeconds: number;
  /** Distinct shared prefixes. */
  readonly prefixes: number;
  /** Popularity of the prefix of rank k is proportional to k^-zipfExponent. */
  readonly zipfExponent: number;
  /** Share of requests whose prompt shares nothing with any other. */
  readonly oneOffShare: number;
  /** Mean tokens of a shared prefix (log-normal, drawn once per prefix), of a request's own part, and of its answer. */
  readonly prefixTokens: number;
  readonly userTokens: number;
  readonly outputTokens: number;
}

export const DEFAULT_SKEWED: Omit<SkewedSpec, 'requestsPerSecond'> = {
  seed: 1,
  durationSeconds: 300,
  prefixes: 2000,
  zipfExponent: 1.1,
  oneOffShare: 0.3,
  prefixTokens: 3072,
  userTokens: 384,
  outputTokens: 200,
};

/** Block ids: prefix k's blocks, then each request's own, far apart so they never collide. */
const PREFIX_BLOCK_BASE = 3_000_000_000;
const BLOCK_STRIDE = 1_000;

/** Rank 0..n-1 drawn with probability proportional to (rank + 1)^-exponent, by bisecting the cumulative weights. */
function zipfSampler(n: number, exponent: number): (u: number) => number {
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cumulative[k] = sum += Math.pow(k + 1, -exponent);
  return (u) => {
    const target = u * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

export function skewedTrace(spec: SkewedSpec): TraceRequest[] {
  const rng = seededRng(spec.seed);
  const rank = zipfSampler(spec.prefixes, spec.zipfExponent);
  // Whole blocks only: a prefix is what an engine can cache of it.
  const prefixBlocks = Array.from({ length: spec.prefixes }, () =>
    Math.max(1, Math.round(logNormal(rng, spec.prefixTokens) / TRACE_BLOCK_TOKENS)),
  );
  const requests: TraceRequest[] = [];
  for (let t = exponential(rng, 1 / spec.requestsPerSecond); t < spec.durationSeconds; t += exponential(rng, 1 / spec.requestsPerSecond)) {
    const n = requests.length;
    const own = (count: number) => blockIds(PREFIX_BLOCK_BASE + (spec.prefixes + n) * BLOCK_STRIDE, count);
    const outputTokens = logNormal(rng, spec.outputTokens);
    if (rng() < spec.oneOffShare) {
      const promptTokens = logNormal(rng, spec.prefixTokens + spec.userTokens);
      requests.push({
        id: `s${n}`,
        arrivalSeconds: t,
        promptTokens,
        outputTokens,
        blocks: own(Math.floor(promptTokens / TRACE_BLOCK_TOKENS)),
      });
      continue;
    }
    const k = rank(rng());
    const shared = prefixBlocks[k];
    const promptTokens = shared * TRACE_BLOCK_TOKENS + logNormal(rng, spec.userTokens);
    requests.push({
      id: `s${n}`,
      arrivalSeconds: t,
      promptTokens,
      outputTokens,
      blocks: [...blockIds(PREFIX_BLOCK_BASE + k * BLOCK_STRIDE, shared), ...own(Math.floor(promptTokens / TRACE_BLOCK_TOKENS) - shared)],
    });
  }
  return requests;
}
