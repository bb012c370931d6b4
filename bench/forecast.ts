/**
 * Demand forecast benchmark: rolling-origin evaluation of @maas/forecast against persistence and
 * seasonal-naive baselines on real request-rate series.
 *
 *   node scripts/run.js bench/forecast.ts [--series FILE]... [--spec KEY=VALUE]... [--out PATH] [--strict]
 *
 * Series are CSV `t_seconds,value` at a regular step (derived from the file; missing rows are gaps).
 * Two weeks or more: fit on days 1–7, evaluate on days 8–14; shorter: split at half. Every origin sees
 * only data up to itself: the forecaster is fed step by step and asked at each origin, and a sample of
 * origins is replayed through the pure `forecast()` to check the two agree exactly.
 * Tables and PASS/FAIL on stdout, progress on stderr, JSON to artifacts/bench/forecast.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defineArgs, parseArgv, runMain } from '@maas/cli-args';
import {
  AccuracySummary,
  AccuracyTally,
  DemandForecaster,
  DemandSeries,
  forecast,
  ForecastSpec,
  resolveForecastSpec,
  ValidForecast,
} from '@maas/forecast';

const root = path.resolve(__dirname, '..', '..');
const DAY = 86_400;
const DEFAULT_SERIES = ['servegen-language-m-large-rate.csv', 'servegen-language-m-mid-rate.csv'].map((f) =>
  path.resolve(root, '..', 'shared', 'data', 'traces', f),
);
const HORIZON_MINUTES = [10, 30, 60];
/** sMAPE improvement over the better baseline required at these horizons (minutes). */
const SMAPE_TARGET = { minutes: [30, 60], improvement: 0.1 };
const COVERAGE_TARGET = { low: 0.88, high: 0.92 };
/** An actual below this share of the fit half's median is a collector gap, excluded from scoring. */
const GAP_FRACTION_OF_MEDIAN = 0.05;
const REPLAY_CHECKS = 6;

interface LoadedSeries {
  readonly file: string;
  readonly startSeconds: number;
  readonly stepSeconds: number;
  readonly values: number[];
}

interface Horizon {
  readonly label: string;
  readonly steps: number;
  readonly minutes: number;
}

interface Row {
  readonly method: string;
  readonly horizon: string;
  readonly summary: AccuracySummary;
}

interface TargetResult {
  readonly target: string;
  readonly pass: boolean;
  readonly detail: string;
}

interface BenchArgs {
  readonly series: string[];
  readonly overrides: Partial<Record<keyof ForecastSpec, number | boolean | string>>;
  readonly out: string;
  readonly strict: boolean;
}

/** --spec KEY=VALUE: true/false, a number, else the text. */
function specOverride(text: string): [keyof ForecastSpec, number | boolean | string] {
  const at = text.indexOf('=');
  if (at < 1) throw new Error(`expected KEY=VALUE, got "${text}"`);
  const key = text.slice(0, at) as keyof ForecastSpec;
  const raw = text.slice(at + 1);
  return [key, raw === 'true' ? true : raw === 'false' ? false : raw.trim() === '' || Number.isNaN(Number(raw)) ? raw : Number(raw)];
}

const spec = defineArgs({
  command: 'node scripts/run.js bench/forecast.ts',
  description: `Rolling-origin evaluation of @maas/forecast against persistence and seasonal-naive baselines on
real request-rate series (CSV t_seconds,value at a regular step; missing rows are gaps). Two weeks
or more: fit on days 1–7, evaluate on days 8–14; shorter: split at half.`,
  options: {
    series: {
      type: 'custom',
      parse: (file: string) => path.resolve(file),
      value: 'FILE',
      multiple: true,
      help: 'a request-rate series; repeatable (default: the shared ServeGen m-large and m-mid series)',
    },
    spec: { type: 'custom', parse: specOverride, value: 'KEY=VALUE', multiple: true, help: 'override one ForecastSpec key; repeatable' },
    out: {
      type: 'custom',
      parse: (file: string) => path.resolve(file),
      value: 'PATH',
      help: 'where the JSON goes (default artifacts/bench/forecast.json)',
    },
    strict: { type: 'boolean', help: 'exit 1 when a target is missed' },
  },
  epilogue: 'Tables and PASS/FAIL on stdout, progress on stderr, JSON to artifacts/bench/forecast.json.',
});

function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgv(spec, argv);
  return {
    series: values.series.length ? values.series : DEFAULT_SERIES,
    overrides: Object.fromEntries(values.spec),
    out: values.out ?? path.join(root, 'artifacts', 'bench', 'forecast.json'),
    strict: values.strict,
  };
}

function loadSeries(file: string): LoadedSeries {
  const rows = fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => line.split(','));
  const data = rows.filter((r) => Number.isFinite(Number(r[0])) && r[0].trim() !== '');
  if (data.length < 4) throw new Error(`${file}: fewer than 4 data rows`);
  const times = data.map((r) => Number(r[0]));
  const diffs = times
    .slice(1)
    .map((t, i) => t - times[i])
    .filter((d) => d > 0);
  const stepSeconds = Math.min(...diffs);
  const startSeconds = times[0];
  const n = Math.round((times[times.length - 1] - startSeconds) / stepSeconds) + 1;
  const values = new Array<number>(n).fill(Number.NaN);
  for (const r of data) {
    const offset = (Number(r[0]) - startSeconds) / stepSeconds;
    if (!Number.isInteger(offset)) throw new Error(`${file}: t=${r[0]} is not on the ${stepSeconds} s grid starting at ${startSeconds}`);
    const v = r[1] === undefined || r[1].trim() === '' ? Number.NaN : Number(r[1]);
    values[offset] = v;
  }
  return { file, startSeconds, stepSeconds, values };
}

function horizonsFor(stepSeconds: number): Horizon[] {
  const byMinutes = HORIZON_MINUTES.filter((m) => (m * 60) % stepSeconds === 0).map((m) => ({
    label: `${m} min`,
    steps: (m * 60) / stepSeconds,
    minutes: m,
  }));
  if (byMinutes.length) return byMinutes;
  return [1, 3, 6].map((s) => ({ label: `${s} step${s > 1 ? 's' : ''}`, steps: s, minutes: (s * stepSeconds) / 60 }));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Persistence and seasonal-naive as an operator would write them, skipping gaps like the forecaster does. */
function baselines(values: number[], isGap: (i: number) => boolean, day: number | undefined, week: number | undefined) {
  const lastValid = new Int32Array(values.length);
  for (let i = 0, last = -1; i < values.length; i += 1) {
    if (!isGap(i)) last = i;
    lastValid[i] = last;
  }
  const seasonal =
    (period: number) =>
    (origin: number, h: number): number | undefined => {
      let source = origin + h - period;
      while (source > origin) source -= period;
      for (let k = 0; k < 4 && source >= 0; k += 1, source -= period) if (!isGap(source)) return values[source];
      return undefined;
    };
  const methods: Array<{ name: string; predict: (origin: number, h: number) => number | undefined }> = [
    { name: 'persistence', predict: (origin) => (lastValid[origin] >= 0 ? values[lastValid[origin]] : undefined) },
  ];
  if (day) methods.push({ name: 'seasonal-naive daily', predict: seasonal(day) });
  if (week) methods.push({ name: 'seasonal-naive weekly', predict: seasonal(week) });
  return methods;
}

interface Evaluation {
  readonly rows: Row[];
  readonly modelShare: Record<string, Array<{ model: string; share: number }>>;
}

function evaluate(series: LoadedSeries, spec: ForecastSpec, horizons: Horizon[], fitEnd: number, evalEnd: number, validationStart: number) {
  const { values, stepSeconds, startSeconds } = series;
  const fitPositive = values.slice(0, fitEnd).filter((v) => v > 0);
  const gapThreshold = GAP_FRACTION_OF_MEDIAN * median(fitPositive);
  const isGap = (i: number): boolean => !(values[i] >= 0) || (gapThreshold > 0 && values[i] < gapThreshold);
  const day = Number.isInteger(DAY / stepSeconds) ? DAY / stepSeconds : undefined;
  const week = Number.isInteger((7 * DAY) / stepSeconds) ? (7 * DAY) / stepSeconds : undefined;
  const methods = baselines(values, isGap, day, week);
  const phases = ['validation', 'test'] as const;
  type Phase = (typeof phases)[number];
  const tallies = new Map<string, AccuracyTally>();
  const tally = (phase: Phase, method: string, h: Horizon): AccuracyTally => {
    const key = `${phase}|${method}|${h.label}`;
    let t = tallies.get(key);
    if (!t) tallies.set(key, (t = new AccuracyTally()));
    return t;
  };
  const share = new Map<string, Map<string, number>>();
  const forecaster = new DemandForecaster(spec, stepSeconds);
  const firstOrigin = validationStart - Math.max(...horizons.map((h) => h.steps));
  const replayOrigins = new Set(
    Array.from({ length: REPLAY_CHECKS }, (_, k) => Math.round(fitEnd - 1 + ((k + 0.5) * (evalEnd - fitEnd)) / REPLAY_CHECKS)),
  );
  const pure: DemandSeries = { startSeconds, stepSeconds, values };
  let replayIdentical = 0;
  let invalid = 0;
  let excluded = 0;
  for (let i = fitEnd; i < evalEnd; i += 1) if (isGap(i)) excluded += 1;
  const progressEvery = Math.max(1, Math.floor(evalEnd / 10));
  for (let origin = 0; origin < evalEnd - 1; origin += 1) {
    const now = startSeconds + origin * stepSeconds;
    forecaster.observe(now, Number.isNaN(values[origin]) ? null : values[origin]);
    if (origin % progressEvery === 0) progress(`${path.basename(series.file)}: ${Math.round((100 * origin) / evalEnd)} %`);
    if (origin < firstOrigin) continue;
    const result = forecaster.forecast(now);
    if (replayOrigins.has(origin)) {
      const replayed = forecast(pure, spec, now);
      if (JSON.stringify(replayed) === JSON.stringify(result)) replayIdentical += 1;
    }
    for (const h of horizons) {
      const target = origin + h.steps;
      const phase: Phase | undefined =
        target >= fitEnd && target < evalEnd ? 'test' : target >= validationStart && target < fitEnd ? 'validation' : undefined;
      if (!phase || isGap(target)) continue;
      if (!result.valid) {
        invalid += 1;
        continue;
      }
      const actual = values[target];
      const point = (result as ValidForecast).points[h.steps - 1];
      tally(phase, 'forecaster', h).add(actual, point.value, point.upper);
      if (phase === 'test') {
        const byModel = share.get(h.label) ?? new Map<string, number>();
        byModel.set(point.model, (byModel.get(point.model) ?? 0) + 1);
        share.set(h.label, byModel);
      }
      for (const m of methods) {
        const p = m.predict(origin, h.steps);
        if (p !== undefined) tally(phase, m.name, h).add(actual, p);
      }
    }
  }
  progress(`${path.basename(series.file)}: done`, true);
  const methodNames = [...methods.map((m) => m.name), 'forecaster'];
  const rowsFor = (phase: Phase): Row[] =>
    horizons.flatMap((h) => methodNames.map((method) => ({ method, horizon: h.label, summary: tally(phase, method, h).summary() })));
  const modelShare: Evaluation['modelShare'] = {};
  for (const [label, byModel] of share) {
    const total = [...byModel.values()].reduce((a, b) => a + b, 0);
    modelShare[label] = [...byModel.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([model, count]) => ({ model, share: count / total }));
  }
  return {
    validation: { rows: rowsFor('validation') } as Evaluation,
    test: { rows: rowsFor('test'), modelShare } as Evaluation,
    gapThreshold,
    excludedTestActuals: excluded,
    invalidForecasts: invalid,
    replayCheck: { origins: replayOrigins.size, identical: replayIdentical },
  };
}

/** One line per update when stderr is a log, an in-place line when it is a terminal. */
function progress(message: string, last = false): void {
  if (process.stderr.isTTY) process.stderr.write(`\r  ${message.padEnd(60)}${last ? '\n' : ''}`);
  else if (last || message.endsWith(' 0 %') || message.endsWith('50 %')) process.stderr.write(`  ${message}\n`);
}

const fmt = (v: number | undefined, digits = 2): string => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(digits));

function table(rows: Row[]): string {
  const header = ['horizon', 'method', 'sMAPE %', 'MAE', 'p90 cover %', 'n'];
  const body = rows.map((r, i) => [
    i > 0 && rows[i - 1].horizon === r.horizon ? '' : r.horizon,
    r.method,
    fmt(r.summary.smape),
    fmt(r.summary.mae, 1),
    r.summary.coverage === undefined ? '—' : fmt(100 * r.summary.coverage, 1),
    String(r.summary.samples),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((b) => b[c].length)));
  const line = (cells: string[]): string => cells.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function judge(rows: Row[], horizons: Horizon[]): TargetResult[] {
  const results: TargetResult[] = [];
  for (const h of horizons) {
    const atH = rows.filter((r) => r.horizon === h.label);
    const ours = atH.find((r) => r.method === 'forecaster')?.summary;
    if (!ours || !ours.samples) continue;
    if (SMAPE_TARGET.minutes.includes(h.minutes)) {
      // a baseline that could not forecast most pairs is not a fair comparison
      const comparable = atH.filter((r) => r.method !== 'forecaster' && r.summary.samples >= 0.9 * ours.samples);
      const best = comparable.sort((a, b) => a.summary.smape - b.summary.smape)[0];
      if (best) {
        const limit = (1 - SMAPE_TARGET.improvement) * best.summary.smape;
        const gain = 100 * (1 - ours.smape / best.summary.smape);
        results.push({
          target: `sMAPE ${h.label} ≥ ${100 * SMAPE_TARGET.improvement} % below best baseline`,
          pass: ours.smape <= limit,
          detail: `forecaster ${fmt(ours.smape)} vs ${best.method} ${fmt(best.summary.smape)} (limit ${fmt(limit)}): ${fmt(gain, 1)} % lower`,
        });
      }
    }
    const coverage = ours.coverage ?? Number.NaN;
    results.push({
      target: `p90 coverage ${h.label} in ${100 * COVERAGE_TARGET.low}–${100 * COVERAGE_TARGET.high} %`,
      pass: coverage >= COVERAGE_TARGET.low && coverage <= COVERAGE_TARGET.high,
      detail: `${fmt(100 * coverage, 1)} % of ${ours.samples} steps`,
    });
  }
  return results;
}

function main(): number {
  const args = parseBenchArgs(process.argv.slice(2));
  const report: unknown[] = [];
  let failures = 0;
  for (const file of args.series) {
    const series = loadSeries(file);
    const n = series.values.length;
    const stepsPerDay = DAY / series.stepSeconds;
    const twoWeeks = n * series.stepSeconds >= 14 * DAY;
    const fitEnd = twoWeeks ? Math.round(7 * stepsPerDay) : Math.floor(n / 2);
    const evalEnd = twoWeeks ? Math.round(14 * stepsPerDay) : n;
    // validation targets: the fit half after its first 2/7 (two days of a week), so warm-up is not scored
    const validationStart = Math.ceil((fitEnd * 2) / 7);
    const horizons = horizonsFor(series.stepSeconds);
    const maxSteps = Math.max(...horizons.map((h) => h.steps));
    const check = resolveForecastSpec({
      ...(args.overrides as Partial<ForecastSpec>),
      horizonSteps: maxSteps,
      decisionHorizonSteps: maxSteps,
      // the replay check must see the same history as the step-by-step run
      maxHistorySeconds: Math.max(28 * DAY, (evalEnd + 1) * series.stepSeconds),
    });
    if (!check.ok) throw new Error(check.error);
    const spec = check.spec;
    const started = process.hrtime.bigint();
    const result = evaluate(series, spec, horizons, fitEnd, evalEnd, validationStart);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const split = twoWeeks ? 'fit days 1–7, evaluate days 8–14' : `fit steps 1–${fitEnd}, evaluate steps ${fitEnd + 1}–${evalEnd}`;
    const targets = judge(result.test.rows, horizons);
    failures += targets.filter((t) => !t.pass).length;
    const name = path.basename(file);
    const out: string[] = [];
    out.push(`\n== ${name}: ${n} steps of ${series.stepSeconds} s; ${split}`);
    out.push(
      `   ${result.excludedTestActuals} test actuals excluded as gaps (< ${fmt(result.gapThreshold, 2)}, ${100 * GAP_FRACTION_OF_MEDIAN} % of the fit half's median); ` +
        `${result.invalidForecasts} invalid forecasts; replay check ${result.replayCheck.identical}/${result.replayCheck.origins} identical; ${fmt(seconds, 1)} s`,
    );
    out.push('\nvalidation (targets within the fit half only, after its first 2/7):');
    out.push(table(result.validation.rows));
    out.push('\ntest (rolling origin, each origin sees only data up to itself):');
    out.push(table(result.test.rows));
    out.push('\nmodels the forecaster emitted on the test half (top 3 per horizon):');
    for (const h of horizons) {
      // a blend counts under its heaviest member (listed first); the JSON keeps the exact names
      const byFamily = new Map<string, number>();
      for (const s of result.test.modelShare[h.label] ?? []) {
        const family = s.model.startsWith('blend(') ? `blend led by ${s.model.slice('blend('.length, -1).split('+')[0]}` : s.model;
        byFamily.set(family, (byFamily.get(family) ?? 0) + s.share);
      }
      const top = [...byFamily.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 3);
      out.push(`  ${h.label.padEnd(7)}  ${top.map(([model, share]) => `${model} ${fmt(100 * share, 0)} %`).join(', ')}`);
    }
    out.push('');
    for (const t of targets) out.push(`${t.pass ? 'PASS' : 'FAIL'}  ${name}  ${t.target}: ${t.detail}`);
    process.stdout.write(`${out.join('\n')}\n`);
    report.push({
      file: name,
      stepSeconds: series.stepSeconds,
      steps: n,
      fitSteps: fitEnd,
      evaluationSteps: evalEnd - fitEnd,
      split,
      gapThreshold: result.gapThreshold,
      excludedTestActuals: result.excludedTestActuals,
      invalidForecasts: result.invalidForecasts,
      replayCheck: result.replayCheck,
      horizons,
      spec,
      validation: result.validation.rows,
      test: result.test.rows,
      modelShare: result.test.modelShare,
      targets,
      seconds,
    });
  }
  fs.mkdirSync(path.dirname(args.out), { recursive: true });
  fs.writeFileSync(args.out, `${JSON.stringify({ benchmark: 'forecast', series: report }, null, 2)}\n`);
  process.stdout.write(
    `\n${failures ? `${failures} target(s) missed` : 'all targets met'}; JSON written to ${args.out.startsWith(root) ? path.relative(root, args.out) : args.out}\n`,
  );
  return args.strict && failures ? 1 : 0;
}

runMain('bench/forecast', main);
