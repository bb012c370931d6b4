import { seededRng } from '../lib/arrivals';
import { blockIds, exponential, logNormal } from './draws';
import { TRACE_BLOCK_TOKENS, TraceRequest } from './trace';

/**
 * A bursty trace: single-turn requests arriving as a two-state Markov-modulated Poisson process,
 * quiet stretches broken by bursts at several times the mean rate (a class starting an exercise, a
 * script fanning out, an agent calling in parallel). A burst is mostly one application firing, so
 * most of its requests share that application's system prompt: the prefix holder is swamped exactly
 * while the rest of the cluster had little to do, which is where affinity and load pull apart.
 * Seeded: the same spec gives the same trace.
 *
 * Defaults and why: bursts at 4× the mean rate for 15 % of the time (6 s each on average), so the
 * quiet rate is 47 % of the mean and a cluster sized for the mean is overloaded 2× in a burst yet
 * drains between them; 16 applications with 2,048-token system prompts (4 trace blocks), 60 % of a
 * burst's requests on its own application; 1,536 user tokens and 200 output tokens on average
 * (log-normal), so a request is ~3.6k prompt tokens of which ~57 % are shared.
 */
export interface BurstySpec {
  readonly seed: number;
  /** Mean arrivals per second over the whole trace. */
  readonly requestsPerSecond: number;
  readonly durationSeconds: number;
  /** The arrival rate in a burst, over the mean rate. */
  readonly burstFactor: number;
  /** Share of the time spent in bursts; with `burstFactor` it sets the quiet rate (their product must stay below 1). */
  readonly burstShare: number;
  /** Mean seconds of a burst (exponential); quiet stretches last `burstSeconds × (1 − burstShare) / burstShare` on average. */
  readonly burstSeconds: number;
  /** Distinct applications (system prompts). */
  readonly applications: number;
  /** Tokens of each system prompt (rounded to whole trace blocks). */
  readonly systemPromptTokens: number;
  /** Share of a burst's requests on the application that fired it; the rest, and quiet requests, pick one at random. */
  readonly burstFocus: number;
  /** Mean tokens of a request's own part after the system prompt, and of its answer (log-normal, sigma 0.8). */
  readonly userTokens: number;
  readonly outputTokens: number;
}

export const DEFAULT_BURSTY: Omit<BurstySpec, 'requestsPerSecond'> = {
  seed: 1,
  durationSeconds: 300,
  burstFactor: 4,
  burstShare: 0.15,
  burstSeconds: 6,
  applications: 16,
  systemPromptTokens: 2048,
  burstFocus: 0.6,
  userTokens: 1536,
  outputTokens: 200,
};

/** Block ids: application k's system prompt, then each request's own, far apart so they never collide. */
const SYSTEM_BLOCK_BASE = 2_000_000_000;
const REQUEST_BLOCK_STRIDE = 1_000;

export function burstyTrace(spec: BurstySpec): TraceRequest[] {
  if (!(spec.burstFactor * spec.burstShare < 1))
    throw new Error(
      `burstFactor × burstShare must be below 1 (the quiet rate would be negative), got ${spec.burstFactor * spec.burstShare}`,
    );
  // The on/off schedule has its own stream, so the bursts fall at the same times whatever the rate.
  const schedule = seededRng(spec.seed);
  const rng = seededRng(spec.seed + 0x9e3779b9);
  const burstRate = spec.requestsPerSecond * spec.burstFactor;
  const quietRate = (spec.requestsPerSecond * (1 - spec.burstShare * spec.burstFactor)) / (1 - spec.burstShare);
  const quietSeconds = (spec.burstSeconds * (1 - spec.burstShare)) / spec.burstShare;
  const systemBlocks = Math.max(1, Math.round(spec.systemPromptTokens / TRACE_BLOCK_TOKENS));
  const requests: TraceRequest[] = [];
  let bursting = schedule() < spec.burstShare;
  let firing = Math.floor(schedule() * spec.applications);
  let t = 0;
  let stateEnds = exponential(schedule, bursting ? spec.burstSeconds : quietSeconds);
  while (t < spec.durationSeconds) {
    const gap = exponential(rng, 1 / (bursting ? burstRate : quietRate));
    // Both states are memoryless: an arrival that would fall past the switch is redrawn at the new rate.
    if (t + gap >= stateEnds) {
      t = stateEnds;
      bursting = !bursting;
      if (bursting) firing = Math.floor(schedule() * spec.applications);
      stateEnds = t + exponential(schedule, bursting ? spec.burstSeconds : quietSeconds);
      continue;
    }
    t += gap;
    if (t >= spec.durationSeconds) break;
    const application = bursting && rng() < spec.burstFocus ? firing : Math.floor(rng() * spec.applications);
    const promptTokens = systemBlocks * TRACE_BLOCK_TOKENS + logNormal(rng, spec.userTokens);
    const n = requests.length;
    const own = Math.floor(promptTokens / TRACE_BLOCK_TOKENS) - systemBlocks;
    requests.push({
      id: `b${n}`,
      arrivalSeconds: t,
      promptTokens,
      outputTokens: logNormal(rng, spec.outputTokens),
      blocks: [
        ...blockIds(SYSTEM_BLOCK_BASE + application * REQUEST_BLOCK_STRIDE, systemBlocks),
        ...blockIds(SYSTEM_BLOCK_BASE + (spec.applications + n) * REQUEST_BLOCK_STRIDE, own),
      ],
    });
  }
  return requests;
}
