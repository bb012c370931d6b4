import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineProfile } from '@maas/engine-sim';
import type { BatchControllerOptions } from '../../services/gateway/src/policy/batch-controller';
import { writeLinePlot } from '../lib/plot';
import { loadRateSeries } from '../scaling/traces';
import { ATTAINMENT_TARGET, Objectives, Period, period, RunSummary, summarize } from './metrics';
import { ClosedLoopRow, peakSweep } from './peak';
import { adaptive, Admission, BatchPolicy, noBatch, settingName, StaticSetting, staticCaps } from './policies';
import { Bucket, DayResult, RateSchedule, Shape, simulateDay, TimelinePoint } from './simulation';

const SERIES_STEP_SECONDS = 600;
const HOUR = 3600;

export interface BatchDayOptions {
  readonly profile: EngineProfile;
  readonly workers: readonly number[];
  readonly seriesFile: string;
  /** Which day of the series (0-based). */
  readonly seriesDay: number;
  /** Real seconds per simulated second: 60 replays 24 h in 24 simulated minutes. */
  readonly compress: number;
  /** Interactive load of the busiest hour, as a share of the cluster's interactive saturation throughput. */
  readonly peakLoad: number;
  readonly interactive: Shape;
  readonly batch: Shape;
  readonly batchPriority: number;
  /** Static sweep: GATEWAY_BATCH_CONCURRENCY values, and interactive-only workers (lanes); lanes >= workers are skipped. */
  readonly caps: readonly number[];
  readonly lanes: readonly number[];
  /** How batch work is admitted (see `Admission`). */
  readonly admission: Admission;
  /** GATEWAY_BATCH_RESERVE for every policy. */
  readonly reserve: number;
  /**
   * GATEWAY_BATCH_CONCURRENCY under adaptive control (its ceiling); Infinity: unset. Default: 'limits', the
   * peak's best concurrency; 'gateway', unset (there it also caps a worker's running requests).
   */
  readonly adaptiveCap?: number;
  /** Objective = factor × the no-batch run's p99 over the day, unless given. */
  readonly objectiveFactor: number;
  readonly ttftObjectiveMs?: number;
  readonly tpotObjectiveMs?: number;
  readonly tickMs: number;
  /** GATEWAY_BATCH_SHED for the adaptive runs. */
  readonly shed: boolean;
  /** BatchController options over its defaults and the gateway's ceiling (GATEWAY_BATCH_CONCURRENCY, else the worker's slots). */
  readonly controller: Partial<Omit<BatchControllerOptions, 'objectives'>>;
  /** Closed-loop sweep for the engine's peak batch throughput. */
  readonly peakConcurrency: readonly number[];
  readonly peakRounds: number;
  /** Step response: night rate this long, then the afternoon peak this long; p99 over this sliding window. */
  readonly stepNightSeconds: number;
  readonly stepPeakSeconds: number;
  readonly stepWindowSeconds: number;
  readonly seed: number;
  readonly outDir: string;
  /** JSON file name (without .json) and PNG names are derived from it. */
  readonly name: string;
}

export interface PolicyRow {
  readonly policy: string;
  readonly setting?: string;
  readonly summary: RunSummary;
  /** Night hours (the quarter of hours with the lowest interactive rate) together. */
  readonly night: Period;
  /** Per hour, which static setting the oracle picked. */
  readonly hourSettings?: string[];
}

export interface SweepRow {
  readonly setting: StaticSetting;
  readonly day: Period;
  readonly hoursMeeting: number;
}

export interface Target {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

export interface StepResponse {
  readonly workers: number;
  readonly nightRate: number;
  readonly peakRate: number;
  readonly stepAtSeconds: number;
  readonly timeline: TimelinePoint[];
  /** From the step until the windowed p99s stay within the objectives (0: never left them). */
  readonly recoverySeconds: number;
  readonly png: string;
  readonly interactiveArrived: number;
  readonly interactiveFinished: number;
}

export interface WorkerCountReport {
  readonly workers: number;
  readonly clusterPeakTokensPerSecond: number;
  readonly rates: { readonly hourly: number[]; readonly peakHour: number; readonly nightHours: number[] };
  readonly objectives: Objectives & { readonly derived: boolean };
  readonly noBatch: PolicyRow;
  readonly sweep: SweepRow[];
  readonly bestStatic: PolicyRow;
  readonly oracle: PolicyRow;
  readonly adaptive: PolicyRow;
  readonly runs: {
    readonly policy: string;
    readonly arrived: number;
    readonly finished: number;
    readonly failed: number;
    readonly batchTokens: number;
  }[];
  readonly stepResponse: StepResponse;
  readonly targets: Target[];
}

export interface BatchDayReport {
  readonly profile: string;
  readonly admission: Admission;
  readonly reserve: number;
  /** The engines' cap on one request's prompt tokens per step (0: off). */
  readonly longPrefillTokenThreshold: number;
  readonly hourSeconds: number;
  readonly peak: { readonly rows: ClosedLoopRow[]; readonly best: ClosedLoopRow; readonly bestConcurrency: number };
  readonly interactiveSaturation: ClosedLoopRow;
  readonly seriesDayRates: number[];
  readonly results: WorkerCountReport[];
  readonly json: string;
}

/** The chosen day's 10-minute rates from the series; a gap (missing or zero rate) is refused. */
export function dayRates(file: string, day: number): number[] {
  const series = loadRateSeries(file);
  if (series.stepSeconds !== SERIES_STEP_SECONDS)
    throw new Error(`${file}: expected a ${SERIES_STEP_SECONDS} s step (ServeGen rate series), got ${series.stepSeconds} s`);
  const perDay = 86_400 / series.stepSeconds;
  const days = Math.floor(series.rates.length / perDay);
  if (day >= days) throw new Error(`${file}: --series-day ${day} is past its ${days} whole day(s)`);
  const rates = Array.from(series.rates.subarray(day * perDay, (day + 1) * perDay));
  const gap = rates.findIndex((r) => !(r > 0));
  if (gap >= 0) throw new Error(`${file}: day ${day} has a gap at step ${gap} (rate ${rates[gap]}); choose another --series-day`);
  return rates;
}

function hourlyMeans(rates: readonly number[]): number[] {
  const perHour = HOUR / SERIES_STEP_SECONDS;
  return Array.from({ length: Math.ceil(rates.length / perHour) }, (_, h) => {
    const slice = rates.slice(h * perHour, (h + 1) * perHour);
    return slice.reduce((a, b) => a + b, 0) / slice.length;
  });
}

/** Hours in the lowest quarter of interactive rate. */
function nightHours(hourly: readonly number[]): number[] {
  return hourly
    .map((r, h) => [r, h] as const)
    .sort((a, b) => a[0] - b[0])
    .slice(0, Math.max(1, Math.round(hourly.length / 4)))
    .map(([, h]) => h)
    .sort((a, b) => a - b);
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/**
 * The whole benchmark: peak, then per worker count no batch, the static sweep (best static, hourly
 * oracle), the adaptive controller and the step response. Pure simulation; writes the JSON and PNGs.
 */
export function runBatchDay(options: BatchDayOptions, log: (line: string) => void): BatchDayReport {
  const { profile } = options;
  const peak = peakSweep(profile, options.batch, options.peakConcurrency, options.peakRounds);
  // As bench/batch.ts: the lowest swept concurrency within 95 % of the peak (what it sets GATEWAY_BATCH_CONCURRENCY to).
  const bestConcurrency = Math.min(
    ...peak.rows.filter((r) => r.outputTokensPerSecond >= 0.95 * peak.best.outputTokensPerSecond).map((r) => r.concurrency),
  );
  const saturation = peakSweep(profile, options.interactive, [profile.maxNumSeqs], 4).best;
  log(
    `peak: ${peak.best.outputTokensPerSecond.toFixed(0)} batch output tok/s per engine (c=${peak.best.concurrency}; within 95 % from c=${bestConcurrency}); interactive saturation ${saturation.requestsPerSecond.toFixed(1)} req/s per engine`,
  );
  const rates10 = dayRates(options.seriesFile, options.seriesDay);
  const hourly = hourlyMeans(rates10);
  const peakHour = hourly.indexOf(Math.max(...hourly));
  const night = nightHours(hourly);
  const stepSeconds = SERIES_STEP_SECONDS / options.compress;
  const hourSeconds = HOUR / options.compress;
  fs.mkdirSync(options.outDir, { recursive: true });

  const results: WorkerCountReport[] = [];
  for (const workers of options.workers) {
    const clusterPeak = workers * peak.best.outputTokensPerSecond;
    const scale = (options.peakLoad * workers * saturation.requestsPerSecond) / hourly[peakHour];
    const schedule: RateSchedule = { stepSeconds, rates: rates10.map((r) => r * scale) };
    const runs: WorkerCountReport['runs'] = [];
    const run = (policy: BatchPolicy, label: string): DayResult => {
      const started = Date.now();
      const result = simulateDay({
        profile,
        workers,
        schedule,
        bucketSeconds: hourSeconds,
        interactive: options.interactive,
        batch: options.batch,
        batchPriority: options.batchPriority,
        policy,
        tickMs: options.tickMs,
        timelineWindowSeconds: 0,
        seed: options.seed,
      });
      runs.push({
        policy: label,
        arrived: result.interactiveArrived,
        finished: result.interactiveFinished,
        failed: result.interactiveFailed,
        batchTokens: result.batchTokens,
      });
      log(
        `${workers} workers, ${label}: ${result.interactiveArrived} interactive requests, ${result.batchTokens} batch tokens, ${result.batchShed} batch requests shed, ${((Date.now() - started) / 1000).toFixed(1)} s wall`,
      );
      return result;
    };
    const rowOf = (policy: string, buckets: readonly Bucket[], objectives: Objectives, extra: Partial<PolicyRow> = {}): PolicyRow => {
      const summary: RunSummary = {
        hours: buckets.map((b) => period([b], hourSeconds, objectives, clusterPeak)),
        day: period(buckets, hourSeconds, objectives, clusterPeak),
      };
      return {
        policy,
        summary,
        night: period(
          night.map((h) => buckets[h]),
          hourSeconds,
          objectives,
          clusterPeak,
        ),
        ...extra,
      };
    };

    const none = run(noBatch(), 'no batch');
    const base = summarize(none, hourSeconds, { ttftP99Ms: Infinity, tpotP99Ms: Infinity }, clusterPeak).day;
    const objectives: Objectives & { derived: boolean } = {
      ttftP99Ms: options.ttftObjectiveMs ?? options.objectiveFactor * base.ttftP99Ms,
      tpotP99Ms: options.tpotObjectiveMs ?? options.objectiveFactor * base.tpotP99Ms,
      derived: options.ttftObjectiveMs === undefined || options.tpotObjectiveMs === undefined,
    };
    log(
      `${workers} workers: objectives TTFT p99 <= ${objectives.ttftP99Ms.toFixed(0)} ms, TPOT p99 <= ${objectives.tpotP99Ms.toFixed(1)} ms`,
    );
    const noBatchRow = rowOf('no batch', none.buckets, objectives);

    // Static sweep, caps ascending per lane; once a cap meets the objectives in no hour, larger ones (more batch) cannot either.
    const sweep: { setting: StaticSetting; result: DayResult; row: PolicyRow }[] = [];
    for (const lane of options.lanes.filter((l) => l < workers)) {
      for (const cap of [...options.caps].sort((a, b) => a - b)) {
        const setting = { cap, lane };
        const result = run(staticCaps(options.admission, profile.model, setting, options.reserve), settingName(setting));
        const row = rowOf('static', result.buckets, objectives, { setting: settingName(setting) });
        sweep.push({ setting, result, row });
        if (row.summary.hours.every((h) => h.attainment < ATTAINMENT_TARGET)) break;
      }
    }
    // Best static: most batch tokens over the day among settings meeting the objectives over the day (no batch if none).
    const meeting = sweep.filter((s) => s.row.summary.day.attainment >= ATTAINMENT_TARGET);
    const best = meeting.reduce<(typeof sweep)[number] | undefined>(
      (a, b) => (!a || b.row.summary.day.batchTokens > a.row.summary.day.batchTokens ? b : a),
      undefined,
    );
    const bestStatic = best ? { ...best.row, policy: 'best static' } : { ...noBatchRow, policy: 'best static', setting: 'no batch' };
    // Hourly oracle: per hour, the setting (no batch included) with most batch tokens among those meeting the objectives that hour.
    const candidates = [
      { name: 'no batch', buckets: none.buckets, row: noBatchRow },
      ...sweep.map((s) => ({ name: settingName(s.setting), buckets: s.result.buckets, row: s.row })),
    ];
    const hourSettings: string[] = [];
    const oracleBuckets = hourly.map((_, h) => {
      const ok = candidates.filter((c) => c.row.summary.hours[h].attainment >= ATTAINMENT_TARGET);
      const pick = (ok.length > 0 ? ok : candidates.slice(0, 1)).reduce((a, b) =>
        b.buckets[h].batchTokens > a.buckets[h].batchTokens ? b : a,
      );
      hourSettings.push(pick.name);
      return pick.buckets[h];
    });
    const oracle = rowOf('hourly oracle', oracleBuckets, objectives, { hourSettings });

    const makeAdaptive = () =>
      adaptive(
        options.admission,
        profile.model,
        { ...options.controller, objectives: { ttftP99Ms: objectives.ttftP99Ms, tpotP99Ms: objectives.tpotP99Ms } },
        options.adaptiveCap ?? (options.admission === 'limits' ? bestConcurrency : Number.POSITIVE_INFINITY),
        options.reserve,
        profile.maxNumSeqs,
        options.shed,
      );
    const adaptivePolicy = makeAdaptive();
    const adaptiveResult = run(adaptivePolicy, 'adaptive');
    const adaptiveRow = rowOf('adaptive', adaptiveResult.buckets, objectives, {
      setting: `ceiling ${adaptivePolicy.controller.ceiling}, lane 0${options.shed ? ', shed' : ''}`,
    });

    const stepResponse = runStepResponse(options, workers, hourly, scale, objectives, makeAdaptive(), log);

    const a = adaptiveRow.summary.day;
    // Throughput counts only while the objectives hold: batch tokens bought with missed objectives are no win.
    const meets = a.attainment >= ATTAINMENT_TARGET;
    const held = meets ? '' : '; adaptive misses the attainment target, so no throughput target passes';
    const ratio = (x: number, y: number) => (y > 0 ? pct(x / y) : 'n/a (baseline ran no batch)');
    const targets: Target[] = [
      {
        name: 'adaptive attainment >= 99 %',
        pass: a.attainment >= ATTAINMENT_TARGET && runs.every((r) => r.finished === r.arrived),
        detail: `${pct(a.attainment)} of interactive requests met both objectives`,
      },
      {
        name: 'adaptive batch >= 95 % of hourly oracle',
        pass: meets && a.batchTokens >= 0.95 * oracle.summary.day.batchTokens,
        detail: `${a.batchTokens} vs ${oracle.summary.day.batchTokens} tokens = ${ratio(a.batchTokens, oracle.summary.day.batchTokens)}${held}`,
      },
      {
        name: 'adaptive batch >= 110 % of best static',
        pass: meets && a.batchTokens >= 1.1 * bestStatic.summary.day.batchTokens,
        detail: `${a.batchTokens} vs ${bestStatic.summary.day.batchTokens} tokens (${bestStatic.setting}) = ${ratio(a.batchTokens, bestStatic.summary.day.batchTokens)}${held}`,
      },
      {
        name: 'adaptive night batch >= 90 % of cluster peak',
        pass: adaptiveRow.night.batchShareOfPeak >= 0.9 && adaptiveRow.night.attainment >= ATTAINMENT_TARGET,
        detail: `${pct(adaptiveRow.night.batchShareOfPeak)} of ${clusterPeak.toFixed(0)} tok/s over hours ${night.join(',')}, attainment there ${pct(adaptiveRow.night.attainment)}`,
      },
      {
        name: 'step response: objectives back within 10 s',
        pass: stepResponse.recoverySeconds <= 10,
        detail: `${stepResponse.recoverySeconds.toFixed(0)} s after the step from ${stepResponse.nightRate.toFixed(1)} to ${stepResponse.peakRate.toFixed(1)} req/s`,
      },
    ];
    results.push({
      workers,
      clusterPeakTokensPerSecond: clusterPeak,
      rates: { hourly: hourly.map((r) => r * scale), peakHour, nightHours: night },
      objectives,
      noBatch: noBatchRow,
      sweep: sweep.map((s) => ({
        setting: s.setting,
        day: s.row.summary.day,
        hoursMeeting: s.row.summary.hours.filter((h) => h.attainment >= ATTAINMENT_TARGET).length,
      })),
      bestStatic,
      oracle,
      adaptive: adaptiveRow,
      runs,
      stepResponse,
      targets,
    });
  }
  const json = path.join(options.outDir, `${options.name}.json`);
  const report: BatchDayReport = {
    profile: profile.name,
    admission: options.admission,
    reserve: options.reserve,
    longPrefillTokenThreshold: options.profile.longPrefillTokenThreshold ?? 0,
    hourSeconds,
    peak: { ...peak, bestConcurrency },
    interactiveSaturation: saturation,
    seriesDayRates: rates10,
    results,
    json,
  };
  fs.writeFileSync(
    json,
    `${JSON.stringify({ generatedAt: new Date().toISOString(), options: { ...options, profile: profile.name }, ...report }, null, 2)}\n`,
  );
  return report;
}

/** Night rate, then a step to the afternoon peak, with the adaptive controller from a cold start. */
function runStepResponse(
  options: BatchDayOptions,
  workers: number,
  hourly: readonly number[],
  scale: number,
  objectives: Objectives,
  policy: BatchPolicy,
  log: (line: string) => void,
): StepResponse {
  const nightRate = Math.min(...hourly) * scale;
  const peakRate = Math.max(...hourly) * scale;
  const stepAt = options.stepNightSeconds;
  const rates = [...Array<number>(options.stepNightSeconds).fill(nightRate), ...Array<number>(options.stepPeakSeconds).fill(peakRate)];
  const result = simulateDay({
    profile: options.profile,
    workers,
    schedule: { stepSeconds: 1, rates },
    bucketSeconds: rates.length,
    interactive: options.interactive,
    batch: options.batch,
    batchPriority: options.batchPriority,
    policy,
    tickMs: options.tickMs,
    timelineWindowSeconds: options.stepWindowSeconds,
    seed: options.seed + 1000,
  });
  const violated = (p: TimelinePoint) => p.ttftP99Ms > objectives.ttftP99Ms || p.tpotP99Ms > objectives.tpotP99Ms;
  const after = result.timeline.filter((p) => p.atSeconds >= stepAt);
  const lastBad = [...after].reverse().find(violated);
  const recoverySeconds = lastBad ? lastBad.atSeconds + options.tickMs / 1000 - stepAt : 0;
  const png = path.join(
    options.outDir,
    workers === options.workers[0] ? 'batch-step-response.png' : `batch-step-response-${workers}-workers.png`,
  );
  writeLinePlot(png, {
    title: `${options.profile.name}, ${workers} workers: night ${nightRate.toFixed(1)} req/s, step to ${peakRate.toFixed(1)} req/s at ${stepAt} s`,
    xLabel: 'simulated seconds',
    leftLabel: `interactive p99 over ${options.stepWindowSeconds} s, ms`,
    rightLabel: 'batch requests per worker',
    series: [
      { label: 'TTFT p99', color: [214, 39, 40], axis: 'left', points: result.timeline.map((p) => [p.atSeconds, p.ttftP99Ms]) },
      { label: 'TPOT p99', color: [255, 127, 14], axis: 'left', points: result.timeline.map((p) => [p.atSeconds, p.tpotP99Ms]) },
      { label: 'batch limit', color: [31, 119, 180], axis: 'right', points: result.timeline.map((p) => [p.atSeconds, p.meanLimit]) },
      {
        label: 'batch in flight',
        color: [44, 160, 44],
        axis: 'right',
        points: result.timeline.map((p) => [p.atSeconds, p.batchInFlight / workers]),
      },
    ],
    lines: [
      { label: 'TTFT objective', color: [214, 39, 40], axis: 'left', y: objectives.ttftP99Ms },
      { label: 'TPOT objective', color: [255, 127, 14], axis: 'left', y: objectives.tpotP99Ms },
    ],
    marks: [stepAt],
  });
  log(`${workers} workers, step response: objectives back ${recoverySeconds.toFixed(0)} s after the step; ${path.basename(png)}`);
  return {
    workers,
    nightRate,
    peakRate,
    stepAtSeconds: stepAt,
    timeline: result.timeline,
    recoverySeconds,
    png,
    interactiveArrived: result.interactiveArrived,
    interactiveFinished: result.interactiveFinished,
  };
}
