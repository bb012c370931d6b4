/**
 * One replica's service, measured on the engine simulator (@maas/engine-sim, vLLM-like continuous
 * batching with the paper-calibrated profile) under open-loop Poisson load with the trace's token mix.
 * The 14-day runs then use this table instead of the engine itself (an analytic approximation: see
 * serving-pool.ts), because simulating every request through engines would take hours.
 */
import { decodeStepSeconds, EngineProfile, SimulatedEngine } from '@maas/engine-sim';
import { Rng, seededRng } from '@maas/scaling';
import { TokenMix } from './traces';

/** Utilisation grid of the table (fraction of `capacity`). */
export const UTILISATION_GRID = Array.from({ length: 19 }, (_, i) => Math.round((i + 1) * 5) / 100);
/** TTFT quantiles per table row: 0, 1, …, 100 %. */
export const QUANTILE_COUNT = 101;

export interface CalibrationRow {
  readonly utilisation: number;
  readonly rate: number;
  readonly requests: number;
  readonly ttftP50: number;
  readonly ttftP99: number;
  /** Share of requests with TTFT within the SLO. */
  readonly withinSlo: number;
  readonly meanLatency: number;
  /** Mean seconds per output token after the first. */
  readonly tpot: number;
  /** Mean requests in the engine (Little: rate × mean latency). */
  readonly concurrency: number;
}

export interface ServiceModel {
  readonly profile: string;
  /** Completed requests per second of one saturated replica on this token mix. */
  readonly capacity: number;
  /** Mean decode batch at saturation. */
  readonly saturatedBatch: number;
  readonly startupSeconds: number;
  readonly rows: readonly CalibrationRow[];
  /** TTFT quantiles (0, 1, …, 100 %) per grid row, flattened row-major. */
  readonly ttftQuantiles: Float64Array;
  /** Replica-seconds of work per token-mix row; their mean is 1 / capacity. */
  readonly work: Float64Array;
  readonly wallSeconds: number;
}

interface OpenLoopResult {
  readonly ttfts: number[];
  readonly latencies: number[];
  readonly tpots: number[];
  readonly finishedInWindow: number;
  readonly meanRunning: number;
}

/** Poisson arrivals at `rate` for `seconds` into one engine; measures requests arriving after `warmup`. */
function openLoop(profile: EngineProfile, mix: TokenMix, rate: number, seconds: number, warmup: number, rng: Rng): OpenLoopResult {
  const engine = new SimulatedEngine({ profile, startupSeconds: 0, granularity: 'request' });
  const ttfts: number[] = [];
  const latencies: number[] = [];
  const tpots: number[] = [];
  let nextArrival = -Math.log(1 - rng()) / rate;
  let sent = 0;
  let finishedInWindow = 0;
  let runningSum = 0;
  let runningSamples = 0;
  let nextSample = warmup;
  for (;;) {
    const engineNext = engine.nextEventTime() ?? Number.POSITIVE_INFINITY;
    const arrival = nextArrival < seconds ? nextArrival : Number.POSITIVE_INFINITY;
    const t = Math.min(engineNext, arrival, nextSample < seconds ? nextSample : Number.POSITIVE_INFINITY);
    if (t === Number.POSITIVE_INFINITY || t > seconds) break;
    if (t === nextSample) {
      engine.advance(t);
      runningSum += engine.snapshot().running;
      runningSamples += 1;
      nextSample += 1;
      continue;
    }
    if (t === arrival) {
      const row = Math.floor(rng() * mix.prompt.length);
      engine.submit({ id: `r${sent}`, promptTokens: mix.prompt[row], outputTokens: mix.output[row] }, t);
      sent += 1;
      nextArrival += -Math.log(1 - rng()) / rate;
      continue;
    }
    for (const event of engine.advance(t)) {
      if (event.type !== 'finished') continue;
      if (event.time >= warmup) finishedInWindow += 1;
      if (event.arrivedAt < warmup) continue;
      const first = event.firstTokenAt ?? event.time;
      ttfts.push(first - event.arrivedAt);
      latencies.push(event.time - event.arrivedAt);
      if (event.outputTokens > 1) tpots.push((event.time - first) / (event.outputTokens - 1));
    }
  }
  return { ttfts, latencies, tpots, finishedInWindow, meanRunning: runningSamples ? runningSum / runningSamples : 0 };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Measures one replica of `profile` on the token mix; deterministic for a seed. */
export function calibrate(
  profile: EngineProfile,
  mix: TokenMix,
  sloSeconds: number,
  seed: number,
  progress: (line: string) => void,
): ServiceModel {
  const started = Date.now();
  const rng = seededRng(seed ^ 0x5ca1e);
  const contextCost = profile.decodeMsPer1kContextTokens / 1e6;
  const raw = (i: number, batch: number) =>
    mix.prompt[i] / profile.prefillTokensPerSecond +
    mix.output[i] * (decodeStepSeconds(profile, batch) / batch + contextCost * (mix.prompt[i] + mix.output[i] / 2));

  // saturation: offer twice what the profile's own arithmetic says one replica can do
  let meanRaw = 0;
  for (let i = 0; i < mix.prompt.length; i += 1) meanRaw += raw(i, profile.maxNumSeqs / 2);
  meanRaw /= mix.prompt.length;
  const overload = openLoop(profile, mix, 2 / meanRaw, 900, 300, rng);
  const capacity = overload.finishedInWindow / 600;
  const saturatedBatch = Math.max(1, overload.meanRunning);
  progress(`calibration: ${profile.name} saturates at ${capacity.toFixed(2)} req/s (mean batch ${saturatedBatch.toFixed(0)})`);

  const work = new Float64Array(mix.prompt.length);
  let workSum = 0;
  for (let i = 0; i < work.length; i += 1) {
    work[i] = raw(i, saturatedBatch);
    workSum += work[i];
  }
  const scale = 1 / capacity / (workSum / work.length);
  for (let i = 0; i < work.length; i += 1) work[i] *= scale;

  const rows: CalibrationRow[] = [];
  const ttftQuantiles = new Float64Array(UTILISATION_GRID.length * QUANTILE_COUNT);
  UTILISATION_GRID.forEach((utilisation, j) => {
    const rate = utilisation * capacity;
    const seconds = Math.max(900, 4000 / rate);
    const run = openLoop(profile, mix, rate, seconds, 120, rng);
    const sorted = [...run.ttfts].sort((a, b) => a - b);
    for (let q = 0; q < QUANTILE_COUNT; q += 1)
      ttftQuantiles[j * QUANTILE_COUNT + q] =
        sorted[Math.min(sorted.length - 1, Math.round((q / (QUANTILE_COUNT - 1)) * (sorted.length - 1)))];
    const meanLatency = mean(run.latencies);
    rows.push({
      utilisation,
      rate,
      requests: sorted.length,
      ttftP50: sorted[Math.floor(0.5 * (sorted.length - 1))],
      ttftP99: sorted[Math.floor(0.99 * (sorted.length - 1))],
      withinSlo: sorted.filter((x) => x <= sloSeconds).length / sorted.length,
      meanLatency,
      tpot: mean(run.tpots),
      concurrency: rate * meanLatency,
    });
  });
  return {
    profile: profile.name,
    capacity,
    saturatedBatch,
    startupSeconds: profile.startupSeconds,
    rows,
    ttftQuantiles,
    work,
    wallSeconds: (Date.now() - started) / 1000,
  };
}

/** Mean requests in one replica at utilisation `rho` (Little), interpolated in the table. */
export function concurrencyAt(model: ServiceModel, rho: number): number {
  const rows = model.rows;
  if (rho <= rows[0].utilisation) return (rows[0].concurrency * rho) / rows[0].utilisation;
  if (rho >= rows[rows.length - 1].utilisation) return rows[rows.length - 1].concurrency;
  const j = Math.min(rows.length - 2, Math.floor((rho - rows[0].utilisation) / 0.05));
  const f = (rho - rows[j].utilisation) / (rows[j + 1].utilisation - rows[j].utilisation);
  return rows[j].concurrency * (1 - f) + rows[j + 1].concurrency * f;
}
