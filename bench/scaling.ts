/**
 * Scaling benchmark: two-stage scaling policies over two weeks of real demand, in virtual time.
 *
 *   node scripts/run.js bench/scaling.ts [--series FILE] [--tokens FILE] [--seed N] [--peak-replicas N]
 *       [--profile NAME] [--tick S] [--days N] [--out PATH] [--trace POLICY] [--set POLICY.SECTION.KEY=VALUE]...
 *
 * Demand: a request-rate series (`t_seconds,requests_per_second`, any length, any regular step; default
 * the 14-day ServeGen m-large series), scaled so that its peak needs --peak-replicas replicas at the
 * target utilisation; arrivals are a non-homogeneous Poisson process on it (piecewise constant per
 * step), token counts drawn from the Azure conversation trace. Service: one replica of the engine
 * simulator's profile, calibrated by running the engine itself (calibration.ts) and applied
 * analytically (policy-run.ts). VMs boot in 2–5 min (uniform), 2 % of boots fail, then the model
 * loads (the profile's start-up time).
 *
 * Policies (policies.ts): a static fleet sized for the peak; reactive (stage 1 on request rate + VMs
 * for its replicas); predictive (the same plus @maas/forecast over the boot horizon, learned online
 * from the request rate measured so far: at each step it has seen only the past); an oracle planning
 * from the true future rate (the lower bound on VM-hours for this VM model and utilisation target);
 * and, for reference, reactive on concurrency (Knative's default metric). `--set` overrides any spec
 * key of one policy (`--set predictive.capacity.scaleDownDelaySeconds=300`); `--trace` prints one
 * policy's state and reasons every simulated minute.
 * Tables and PASS/FAIL on stdout, progress on stderr, JSON to artifacts/bench/scaling.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defineArgs, parseArgv, runMain } from '@maas/cli-args';
import { findProfile } from '@maas/engine-sim';
import { DemandForecaster, resolveForecastSpec } from '@maas/forecast';
import { DemandOutlook, seededRng } from '@maas/scaling';
import { calibrate, concurrencyAt } from './scaling/calibration';
import { ProgressBar } from './lib/progress';
import { repoRoot, writeReport } from './lib/report';
import { renderTable } from './lib/table';
import { percent, seconds } from './scaling/format';
import { definePolicies } from './scaling/policies';
import { PolicyRun, PolicyTotals } from './scaling/policy-run';
import { loadRateSeries, loadTokenMix } from './scaling/traces';

const TRACES = path.resolve(repoRoot(), '..', 'shared', 'data', 'traces');
const MODEL = 'Qwen/Qwen2.5-3B-Instruct';
const VM_TYPE = 'gpu-a100';
const SLO_SECONDS = 2;
/** A request "waited for capacity" when it queued this long for a free replica. */
const COLD_WAIT_SECONDS = 0.5;
const TARGET_UTILISATION = 0.7;
const BOOT = { min: 120, max: 300 };
const BOOT_FAILURE_PROBABILITY = 0.02;
const TARGETS = { predictiveSlo: 0.99, vsOracle: 1.5, vsReactive: 1.05 };

interface BenchArgs {
  readonly series: string;
  readonly tokens: string;
  readonly seed: number;
  readonly peakReplicas: number;
  readonly profile: string;
  readonly tickSeconds: number;
  readonly days: number | undefined;
  /** Where the JSON goes; artifacts/bench/scaling.json by default. */
  readonly out: string | undefined;
  /** Print this policy's state every simulated minute on stderr. */
  readonly trace: string | undefined;
  /** `policy.section.key=value` spec overrides, e.g. `predictive.capacity.scaleDownDelaySeconds=300`. */
  readonly sets: string[];
}

const spec = defineArgs({
  command: 'node scripts/run.js bench/scaling.ts',
  description: `Two-stage scaling policies (static, reactive, predictive, oracle, reactive on concurrency) over
two weeks of real demand, in virtual time; the header of bench/scaling.ts explains the set-up.`,
  options: {
    series: {
      type: 'custom',
      parse: (file: string) => path.resolve(file),
      value: 'FILE',
      help: 'request-rate series t_seconds,requests_per_second (default: the shared ServeGen m-large series)',
    },
    tokens: {
      type: 'custom',
      parse: (file: string) => path.resolve(file),
      value: 'FILE',
      help: 'token counts to draw from (default: the shared Azure conversation trace)',
    },
    seed: { type: 'integer', default: 1, help: 'seed of arrivals, token draws and boots' },
    'peak-replicas': { type: 'integer', min: 1, default: 20, help: 'the series is scaled so that its peak needs this many replicas' },
    profile: { type: 'string', value: 'NAME', default: 'a100-qwen2.5-3b', help: 'engine-sim profile of one replica' },
    tick: { type: 'number', above: 0, max: 60, default: 2, value: 'S', help: 'simulated seconds per step' },
    days: { type: 'number', above: 0, help: 'simulate only the first N days (default: the whole series)' },
    out: {
      type: 'custom',
      parse: (file: string) => path.resolve(file),
      value: 'PATH',
      help: 'where the JSON goes (default artifacts/bench/scaling.json)',
    },
    trace: { type: 'string', value: 'POLICY', help: "print this policy's state and reasons every simulated minute on stderr" },
    set: {
      type: 'string',
      value: 'POLICY.SECTION.KEY=VALUE',
      multiple: true,
      help: 'override one spec key of one policy, e.g. predictive.capacity.scaleDownDelaySeconds=300; repeatable',
    },
  },
  epilogue: 'Tables and PASS/FAIL on stdout, progress on stderr, JSON to artifacts/bench/scaling.json.',
});

function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgv(spec, argv);
  return {
    series: values.series ?? path.join(TRACES, 'servegen-language-m-large-rate.csv'),
    tokens: values.tokens ?? path.join(TRACES, 'azure-llm-2023-conv.csv'),
    seed: values.seed,
    peakReplicas: values['peak-replicas'],
    profile: values.profile,
    tickSeconds: values.tick,
    days: values.days,
    out: values.out,
    trace: values.trace,
    sets: values.set,
  };
}

function main(): void {
  const started = Date.now();
  const args = parseBenchArgs(process.argv.slice(2));
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const series = loadRateSeries(args.series);
  const mix = loadTokenMix(args.tokens);
  const profile = findProfile(args.profile);
  const service = calibrate(profile, mix, SLO_SECONDS, args.seed, progress);

  const finite = [...series.rates].filter((r) => Number.isFinite(r));
  const peakRate = Math.max(...finite);
  if (!(peakRate > 0)) throw new Error(`${series.file}: no positive rate`);
  const scale = (args.peakReplicas * service.capacity * TARGET_UTILISATION) / peakRate;
  const steps =
    args.days === undefined ? series.rates.length : Math.min(series.rates.length, Math.ceil((args.days * 86400) / series.stepSeconds));
  const duration = steps * series.stepSeconds;
  const rateAt = (k: number): number => {
    const r = series.rates[k];
    return Number.isFinite(r) ? r * scale : 0;
  };

  // per-replica targets from the calibration: the concurrency one replica holds at the target utilisation
  const targetConcurrency = concurrencyAt(service, TARGET_UTILISATION) / TARGET_UTILISATION;
  // the highest measured utilisation whose TTFT p99 stays within half the SLO: where a pessimistic forecast is planned
  const safeRows = service.rows.filter((r) => r.ttftP99 <= SLO_SECONDS / 2 && r.utilisation >= TARGET_UTILISATION);
  const maxUtilisation = safeRows.length ? safeRows[safeRows.length - 1].utilisation : TARGET_UTILISATION;
  const { policies, bootToServing, bootMarginSeconds } = definePolicies({
    model: MODEL,
    vmType: VM_TYPE,
    service,
    peakReplicas: args.peakReplicas,
    targetUtilisation: TARGET_UTILISATION,
    maxUtilisation,
    targetConcurrency,
    bootMaxSeconds: BOOT.max,
    initialVms: Math.max(1, Math.ceil(rateAt(0) / (service.capacity * TARGET_UTILISATION))),
    sets: args.sets,
  });
  const runs = policies.map(
    (p, i) =>
      new PolicyRun(p, MODEL, VM_TYPE, service, SLO_SECONDS, COLD_WAIT_SECONDS, args.seed * 7919 + i, BOOT, BOOT_FAILURE_PROBABILITY),
  );

  // the forecaster learns from the rate measured at the end of each step: it only ever sees the past
  const horizonSeconds = bootToServing + bootMarginSeconds;
  const horizonSteps = Math.ceil(horizonSeconds / series.stepSeconds) + 1;
  const forecastCheck = resolveForecastSpec({ horizonSteps, decisionHorizonSteps: horizonSteps });
  if (!forecastCheck.ok) throw new Error(forecastCheck.error);
  const forecaster = new DemandForecaster(forecastCheck.spec, series.stepSeconds);
  let learned: DemandOutlook = { valid: false, reason: 'no observations yet' };
  let invalidForecastTicks = 0;
  let oracleStep = -1;
  let oracle: DemandOutlook = { valid: false, reason: 'not built' };

  const traced = args.trace === undefined ? undefined : runs.find((r) => r.policy.name === args.trace);
  if (args.trace !== undefined && !traced)
    throw new Error(`bench/scaling: --trace ${args.trace}: no such policy (${policies.map((p) => p.name).join(', ')})`);
  const rng = seededRng(args.seed);
  const tick = args.tickSeconds;
  let nextArrival = Number.POSITIVE_INFINITY;
  let lastRate = -1;
  let stepArrivals = 0;
  let currentStep = 0;
  let nextProgress = 86400;
  const bar = new ProgressBar(Math.ceil(duration / 86400), 'scaling: simulated days');
  const work = service.work;
  const outputs = mix.output;
  const n = work.length;

  for (let t0 = 0; t0 < duration; t0 += tick) {
    const t1 = Math.min(duration, t0 + tick);
    const k = Math.min(steps - 1, Math.floor(t0 / series.stepSeconds));
    const rate = rateAt(k);
    if (rate !== lastRate) {
      // memoryless: a new rate draws the next arrival afresh from here
      nextArrival = rate > 0 ? t0 - Math.log(1 - rng()) / rate : Number.POSITIVE_INFINITY;
      lastRate = rate;
    }
    for (const run of runs) run.beginTick(rate);
    while (nextArrival < t1) {
      const row = Math.floor(rng() * n);
      const u = rng();
      for (const run of runs) run.arrive(nextArrival, work[row], outputs[row], u, tick);
      stepArrivals += 1;
      nextArrival -= Math.log(1 - rng()) / rate;
    }
    const stepEnd = (currentStep + 1) * series.stepSeconds;
    if (t1 >= stepEnd) {
      forecaster.observe(series.startSeconds + stepEnd, stepArrivals / series.stepSeconds);
      stepArrivals = 0;
      currentStep += 1;
      const f = forecaster.forecast(series.startSeconds + t1);
      learned = f.valid
        ? { ...f, points: f.points.map((p) => ({ ...p, t: p.t - series.startSeconds })), upperQuantile: forecastCheck.spec.upperQuantile }
        : f;
    }
    if (!learned.valid) invalidForecastTicks += 1;
    const k1 = Math.min(steps - 1, Math.floor(t1 / series.stepSeconds));
    if (k1 !== oracleStep) {
      oracleStep = k1;
      const points = [];
      for (let j = k1; j <= Math.min(steps - 1, k1 + horizonSteps); j += 1)
        points.push({ t: (j + 1) * series.stepSeconds, value: rateAt(j), upper: rateAt(j) });
      oracle = { valid: true, stepSeconds: series.stepSeconds, points, model: 'true rate' };
    }
    for (const run of runs)
      run.endTick(t1, tick, run.policy.forecast === 'learned' ? learned : run.policy.forecast === 'oracle' ? oracle : undefined);
    if (traced && Math.floor(t1 / 60) !== Math.floor(t0 / 60)) progress(`${traced.describe(t1)} | rate ${rate.toFixed(1)}`);
    if (t1 >= nextProgress || t1 >= duration) {
      for (const run of runs) run.endDay(t1);
      bar.relabel(`scaling: simulated days (replicas ${runs.map((r) => `${r.policy.name} ${r.replicas}`).join(', ')})`);
      bar.tick();
      nextProgress += 86400;
    }
  }
  bar.finish();

  const totals = runs.map((r) => ({ policy: r.policy, totals: r.totals(duration) }));
  const by = (name: string): PolicyTotals => totals.find((x) => x.policy.name === name)!.totals;
  const attainment = (x: PolicyTotals) => x.withinSlo / Math.max(1, x.requests);
  const misses = (x: PolicyTotals) => x.requests - x.withinSlo;
  const oracleHours = by('oracle').vmHours;

  const header = [
    'policy',
    `SLO (TTFT ≤ ${SLO_SECONDS} s)`,
    'SLO misses',
    'TTFT p50',
    'TTFT p99',
    'VM-hours',
    '× oracle',
    'VM starts',
    'VM stops',
    'failed boots',
    'peak VMs',
    'cold-start waits',
  ];
  const rows = totals.map(({ policy, totals: x }) => [
    policy.name,
    percent(attainment(x), 3),
    misses(x),
    seconds(x.ttftP50),
    seconds(x.ttftP99),
    Math.round(x.vmHours),
    (x.vmHours / oracleHours).toFixed(2),
    x.vmStarts,
    x.vmStops,
    x.failedBoots,
    x.peakVms,
    `${x.coldStartWaits} (${percent(x.coldStartWaits / Math.max(1, x.requests), 3)})`,
  ]);

  const predictive = by('predictive');
  const reactive = by('reactive');
  const targets = [
    {
      target: `predictive SLO attainment ≥ ${percent(TARGETS.predictiveSlo, 0)}`,
      pass: attainment(predictive) >= TARGETS.predictiveSlo,
      detail: percent(attainment(predictive), 3),
    },
    {
      target: `predictive VM-hours ≤ ${TARGETS.vsOracle} × oracle`,
      pass: predictive.vmHours <= TARGETS.vsOracle * oracleHours,
      detail: `${predictive.vmHours.toFixed(0)} vs ${(TARGETS.vsOracle * oracleHours).toFixed(0)} (${(predictive.vmHours / oracleHours).toFixed(2)} ×)`,
    },
    {
      target: `predictive: fewer SLO misses than reactive at ≤ ${percent(TARGETS.vsReactive, 0)} of its VM-hours`,
      pass: misses(predictive) < misses(reactive) && predictive.vmHours <= TARGETS.vsReactive * reactive.vmHours,
      detail: `misses ${misses(predictive)} vs ${misses(reactive)}; VM-hours ${percent(predictive.vmHours / reactive.vmHours, 1)} of reactive`,
    },
  ];

  const wall = (Date.now() - started) / 1000;
  const requests = totals[0].totals.requests;
  const out: string[] = [];
  out.push(
    `scaling benchmark — ${path.basename(series.file)}: ${(duration / 86400).toFixed(1)} days in ${series.stepSeconds} s steps, peak ${peakRate.toFixed(1)} req/s scaled ×${scale.toFixed(4)} → ${(peakRate * scale).toFixed(1)} req/s (${args.peakReplicas} replicas at ${percent(TARGET_UTILISATION, 0)}), ${requests} requests, seed ${args.seed}`,
  );
  out.push(
    `tokens: ${path.basename(mix.file)} (${mix.prompt.length} requests sampled uniformly); VMs: ${VM_TYPE}, 1 replica each, boot ${BOOT.min / 60}–${BOOT.max / 60} min uniform + ${service.startupSeconds} s model load, ${percent(BOOT_FAILURE_PROBABILITY, 0)} boot failures; decisions every ${tick} s`,
  );
  out.push(
    `service: analytic approximation calibrated on the engine simulator (${service.profile}, ${service.wallSeconds.toFixed(1)} s of engine runs): one replica completes ${service.capacity.toFixed(2)} req/s at saturation; ` +
      `TTFT p99 ${seconds(service.rows[13].ttftP99)} at 70 %, ${seconds(service.rows[18].ttftP99)} at 95 %; targets per replica ${service.capacity.toFixed(2)} req/s × ${TARGET_UTILISATION} (forecast p90 × ${maxUtilisation}, TTFT p99 ≤ ${SLO_SECONDS / 2} s there)`,
  );
  out.push(
    `cold-start wait: queued ≥ ${COLD_WAIT_SECONDS} s for a free replica. oracle: same planner fed the true future rate (no reactive term, no scale-down delay)`,
  );
  out.push(
    `reactive-concurrency (reference, not a target): KPA on concurrency. Per replica the engine holds ${service.rows[1].concurrency.toFixed(1)} requests at 10 % load and ${service.rows[13].concurrency.toFixed(1)} at 70 % ` +
      `(${(service.rows[13].concurrency / service.rows[1].concurrency).toFixed(0)}× for 7× the load): a concurrency target under-sizes when quiet and over-sizes in bursts`,
  );
  out.push('');
  out.push(renderTable(header, rows));
  out.push('');
  const dayHeader = ['SLO misses per day', ...totals[0].totals.days.map((_, d) => `d${d + 1}`)];
  const dayRows = totals
    .filter(({ policy }) => policy.name !== 'static-peak')
    .map(({ policy, totals: x }) => [policy.name, ...x.days.map((d) => percent(d.misses / Math.max(1, d.requests), 2))]);
  out.push(renderTable(dayHeader, dayRows));
  out.push('');
  for (const t of targets) out.push(`${t.pass ? 'PASS' : 'FAIL'}  ${t.target}: ${t.detail}`);
  out.push(`(${wall.toFixed(0)} s wall; learned forecast not valid on ${invalidForecastTicks} ticks while warming up)`);
  process.stdout.write(`${out.join('\n')}\n`);

  const report = {
    benchmark: 'scaling',
    series: {
      file: path.basename(series.file),
      stepSeconds: series.stepSeconds,
      steps,
      days: duration / 86400,
      peakRate,
      scale,
      scaledPeakRate: peakRate * scale,
    },
    tokens: { file: path.basename(mix.file), requests: mix.prompt.length },
    seed: args.seed,
    tickSeconds: tick,
    sloSeconds: SLO_SECONDS,
    coldWaitSeconds: COLD_WAIT_SECONDS,
    vm: { type: VM_TYPE, boot: BOOT, modelLoadSeconds: service.startupSeconds, failureProbability: BOOT_FAILURE_PROBABILITY },
    service: {
      method: 'analytic approximation calibrated on @maas/engine-sim',
      profile: service.profile,
      capacity: service.capacity,
      saturatedBatch: service.saturatedBatch,
      rows: service.rows,
    },
    forecast: { spec: forecastCheck.spec, invalidTicks: invalidForecastTicks },
    policies: totals.map(({ policy, totals: x }) => ({
      name: policy.name,
      description: policy.description,
      spec: policy.spec ?? null,
      ...x,
      sloAttainment: attainment(x),
      sloMisses: misses(x),
      vmHoursVsOracle: x.vmHours / oracleHours,
    })),
    targets,
    wallSeconds: wall,
  };
  let written: string;
  if (args.out) {
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    fs.writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
    written = args.out;
  } else {
    written = writeReport('scaling', report);
  }
  progress(`wrote ${path.relative(process.cwd(), written)}`);
}

runMain('bench/scaling', main);
