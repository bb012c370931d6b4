import { percentile } from '../lib/stats';
import { Bucket, DayResult } from './simulation';

export interface Objectives {
  readonly ttftP99Ms: number;
  readonly tpotP99Ms: number;
}

/** Interactive latency and batch throughput over one stretch (an hour, or the day). */
export interface Period {
  readonly requests: number;
  readonly ttftP50Ms: number;
  readonly ttftP99Ms: number;
  readonly tpotP50Ms: number;
  readonly tpotP99Ms: number;
  /** Share of the requests meeting both objectives, 0..1 (1 when there were none). */
  readonly attainment: number;
  readonly batchTokens: number;
  readonly seconds: number;
  readonly batchTokensPerSecond: number;
  /** Batch output tokens/s over the cluster's peak (workers × one engine's closed-loop peak). */
  readonly batchShareOfPeak: number;
  /** Mean batch requests in flight per worker, and the adaptive control's mean limit per worker (NaN under static control). */
  readonly meanInFlight: number;
  readonly meanLimit: number;
}

/** Meets the attainment target (share of requests meeting both objectives). */
export const ATTAINMENT_TARGET = 0.99;

function sortedCopy(values: readonly number[]): number[] {
  return Array.from(Float64Array.from(values).sort());
}

/** Merges buckets (all or some hours of one run, or hours of different runs for the oracle). */
export function period(buckets: readonly Bucket[], bucketSeconds: number, objectives: Objectives, clusterPeak: number): Period {
  const ttft: number[] = [];
  const tpot: number[] = [];
  let met = 0;
  let batchTokens = 0;
  let limitSum = 0;
  let inFlightSum = 0;
  let ticks = 0;
  for (const b of buckets) {
    for (let i = 0; i < b.ttftMs.length; i++) {
      ttft.push(b.ttftMs[i]);
      tpot.push(b.tpotMs[i]);
      if (b.ttftMs[i] <= objectives.ttftP99Ms && b.tpotMs[i] <= objectives.tpotP99Ms) met += 1;
    }
    batchTokens += b.batchTokens;
    limitSum += b.limitSum;
    inFlightSum += b.inFlightSum;
    ticks += b.ticks;
  }
  const t = sortedCopy(ttft);
  const p = sortedCopy(tpot);
  const seconds = buckets.length * bucketSeconds;
  return {
    requests: ttft.length,
    ttftP50Ms: percentile(t, 50),
    ttftP99Ms: percentile(t, 99),
    tpotP50Ms: percentile(p, 50),
    tpotP99Ms: percentile(p, 99),
    attainment: ttft.length > 0 ? met / ttft.length : 1,
    batchTokens,
    seconds,
    batchTokensPerSecond: batchTokens / seconds,
    batchShareOfPeak: batchTokens / seconds / clusterPeak,
    meanInFlight: ticks > 0 ? inFlightSum / ticks : 0,
    meanLimit: ticks > 0 ? limitSum / ticks : Number.NaN,
  };
}

/** A run's hours and its whole day. */
export interface RunSummary {
  readonly hours: Period[];
  readonly day: Period;
}

export function summarize(result: DayResult, bucketSeconds: number, objectives: Objectives, clusterPeak: number): RunSummary {
  return {
    hours: result.buckets.map((b) => period([b], bucketSeconds, objectives, clusterPeak)),
    day: period(result.buckets, bucketSeconds, objectives, clusterPeak),
  };
}
