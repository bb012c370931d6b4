import * as path from 'node:path';
import { defineArgs, integerList, parseArgv } from '@maas/cli-args';
import { findProfile, WORKLOADS } from '@maas/engine-sim';
import { repoRoot } from '../lib/report';
import { formatNumber, renderTable } from '../lib/table';
import { BatchDayOptions, BatchDayReport, PolicyRow, runBatchDay, WorkerCountReport } from './benchmark';
import { Period } from './metrics';

const PROFILE = 'a100-gpt-oss-20b';
const positiveInt = { type: 'integer', min: 1 } as const;
const DEFAULT_SERIES = path.resolve(repoRoot(), '..', 'shared', 'data', 'traces', 'servegen-language-m-mid-rate.csv');

const CONTROLLER_KEYS = [
  'ceiling',
  'floor',
  'initial',
  'increase',
  'decrease',
  'headroom',
  'windowMs',
  'cutSpacingMs',
  'holdAfterCutMs',
  'waitingTolerance',
  'kvHigh',
  'firstTokenSteps',
  'probeHeadroom',
  'surgeRise',
  'surgeWindowMs',
  'surgeMin',
] as const;
type ControllerKey = (typeof CONTROLLER_KEYS)[number];

function controllerOverride(text: string): [ControllerKey, number] {
  const at = text.indexOf('=');
  const key = text.slice(0, at) as ControllerKey;
  const n = Number(text.slice(at + 1));
  if (at < 1 || !CONTROLLER_KEYS.includes(key))
    throw new Error(`expected KEY=N with KEY one of ${CONTROLLER_KEYS.join(', ')}, got "${text}"`);
  if (text.slice(at + 1).trim() === '' || !Number.isFinite(n) || n < 0)
    throw new Error(`${key}: expected a number >= 0, got "${text.slice(at + 1)}"`);
  return [key, n];
}

const spec = defineArgs({
  command: 'node scripts/run.js bench/batch-day.ts',
  description: `A compressed day of interactive demand (a ServeGen rate series) on simulated a100-gpt-oss-20b workers in
virtual time, with a batch backlog that never runs dry, under four batch policies: no batch; the best static
setting (caps per worker and interactive-only workers, swept, chosen with hindsight for the whole day); the
gateway's adaptive controller (services/gateway/src/policy/batch-controller.ts); and an hourly oracle (the best
static setting per hour, with hindsight). Then a step from the night rate to the afternoon peak under the
controller, plotted. Also run as npm run bench:batch -- --day [options].`,
  options: {
    workers: { type: 'custom', parse: integerList(1), default: [2, 4], value: 'A,B', help: 'worker counts to run (default 2,4)' },
    series: {
      type: 'custom',
      parse: (file: string) => path.resolve(file),
      value: 'FILE',
      help: 'interactive request-rate series, CSV t_seconds,requests_per_second at a 600 s step (default ../shared/data/traces/servegen-language-m-mid-rate.csv)',
    },
    'series-day': {
      type: 'integer',
      min: 0,
      default: 2,
      value: 'D',
      help: "the series' day to replay, 0-based (default 2: no collector gaps, and the widest night-to-afternoon swing of the first week of the default series)",
    },
    compress: {
      type: 'number',
      above: 0,
      default: 60,
      value: 'X',
      help: 'real seconds per simulated second (default 60: the day in 24 simulated minutes, an hour in 60 s); rates are per simulated second',
    },
    'peak-load': {
      type: 'number',
      above: 0,
      default: 0.8,
      value: 'F',
      help: "the busiest hour's interactive rate as a share of the cluster's interactive saturation throughput (one engine closed loop at max_num_seqs, × workers); the day is scaled by it (default 0.8)",
    },
    admission: {
      type: 'string',
      choices: ['gateway', 'limits'],
      default: 'limits',
      value: 'A',
      help: "how batch work is admitted. limits (default): the policy's number alone, batch requests per worker (static: the cap, the first LANE workers none), interactive requests to the least-outstanding worker. gateway: as the gateway's routing does (@maas/routing batchSlots: lanes formed from interactive requests in flight, GATEWAY_BATCH_RESERVE, none while a worker queues, under static control GATEWAY_BATCH_CONCURRENCY capping a worker's running requests and interactive requests on a batch-lane worker closing it; under adaptive control the lane exactly GATEWAY_INTERACTIVE_LANE (0 here) and the controller's paced limit on its batch requests alone), interactive requests kept clear of batch workers with room",
    },
    caps: {
      type: 'custom',
      parse: integerList(1),
      value: 'A,B',
      help: "static sweep: with --admission gateway GATEWAY_BATCH_CONCURRENCY, the running requests (interactive ones included) batch work may bring a worker to (default 32,48,64,96,128,192,256; 256 = the worker's slots); with limits, batch requests per worker (default 1,2,4,8,16,32,48). Per lane, larger caps are skipped once one meets the objectives in no hour",
    },
    lanes: {
      type: 'custom',
      parse: integerList(0),
      default: [0, 1, 2],
      value: 'A,B',
      help: 'static sweep: workers kept free of batch work, GATEWAY_INTERACTIVE_LANE (default 0,1,2; those >= the worker count are skipped)',
    },
    reserve: {
      type: 'number',
      min: 0,
      max: 1,
      default: 0.05,
      value: 'F',
      help: 'GATEWAY_BATCH_RESERVE for every policy: share of slots and KV cache batch work leaves free (default 0.05, as bench/batch.ts with priority scheduling)',
    },
    'adaptive-cap': {
      ...positiveInt,
      value: 'N',
      help: "GATEWAY_BATCH_CONCURRENCY under adaptive control: the controller's ceiling (only that, with either admission). Default: with limits, the peak's best concurrency (as bench/batch.ts sets it); with gateway, unset (the ceiling is the worker's slots)",
    },
    'objective-factor': {
      type: 'number',
      above: 0,
      default: 1.5,
      value: 'F',
      help: "objectives = F × the no-batch run's TTFT and TPOT p99 over the day (default 1.5)",
    },
    'ttft-objective-ms': { type: 'number', above: 0, value: 'MS', help: 'interactive TTFT p99 objective (default: derived)' },
    'tpot-objective-ms': { type: 'number', above: 0, value: 'MS', help: 'interactive TPOT p99 objective (default: derived)' },
    shed: {
      type: 'boolean',
      help: "GATEWAY_BATCH_SHED for the adaptive runs: batch requests over a worker's limit are shed at each update",
    },
    'tick-ms': {
      ...positiveInt,
      default: 1000,
      value: 'MS',
      help: 'how often the gateway hears heartbeats and updates batch limits, simulated ms (default 1000)',
    },
    'input-tokens': { ...positiveInt, default: WORKLOADS.summary.promptTokens, help: 'batch prompt tokens (as bench/batch.ts)' },
    'output-tokens': { ...positiveInt, default: WORKLOADS.summary.outputTokens, help: 'batch output tokens (as bench/batch.ts)' },
    'batch-priority': {
      type: 'integer',
      min: 1,
      default: 1,
      help: 'engine priority of batch requests under the priority scheduling policy (interactive: 0; as bench/batch.ts)',
    },
    'max-num-batched-tokens': { ...positiveInt, help: "the engines' step token budget (default: the profile's)" },
    'long-prefill-token-threshold': {
      type: 'integer',
      min: 0,
      default: 256,
      help: "vLLM's cap on one request's prompt tokens per step (default 256: the engines run as a site mixing batch into interactive workers would run them, since one step carrying a full 2,048-token chunk of a batch prompt outlasts the derived TTFT objective and any first token sharing it misses whatever admission does; 0: off, as bench/batch.ts)",
    },
    'peak-concurrency': {
      type: 'custom',
      parse: integerList(1),
      default: [16, 32, 48, 64, 128],
      value: 'A,B',
      help: 'closed-loop concurrencies for the peak (as bench/batch.ts)',
    },
    'peak-rounds': { ...positiveInt, default: 2, help: 'requests per closed-loop client' },
    'step-night-seconds': { ...positiveInt, default: 120, help: 'step response: seconds at the night rate before the step' },
    'step-peak-seconds': { ...positiveInt, default: 60, help: 'step response: seconds at the afternoon peak after it' },
    'step-window-seconds': { ...positiveInt, default: 5, help: 'step response: sliding window of the p99s' },
    'out-dir': {
      type: 'custom',
      parse: (dir: string) => path.resolve(dir),
      value: 'DIR',
      help: 'where the JSON and the PNGs go (default artifacts/bench)',
    },
    controller: {
      type: 'custom',
      parse: controllerOverride,
      value: 'KEY=N',
      multiple: true,
      help: `a BatchController option for the adaptive runs, repeatable: ${CONTROLLER_KEYS.join(', ')} (default: the controller's defaults; the ceiling as the gateway sets it, see --adaptive-cap)`,
    },
    seed: { ...positiveInt, default: 1, help: 'arrival seed' },
  },
  epilogue: `Times are simulated. Writes DIR/batch-day.json, DIR/batch-step-response.png (the first worker count) and
DIR/batch-step-response-N-workers.png (the others). Exit 1 when a target is missed.`,
});

export function parseBatchDayArgs(argv: readonly string[]): BatchDayOptions {
  const { values } = parseArgv(spec, [...argv]);
  const base = findProfile(PROFILE);
  const profile = {
    ...base,
    maxBatchedTokens: values['max-num-batched-tokens'] ?? base.maxBatchedTokens,
    longPrefillTokenThreshold: values['long-prefill-token-threshold'],
  };
  return {
    profile,
    workers: values.workers,
    seriesFile: values.series ?? DEFAULT_SERIES,
    seriesDay: values['series-day'],
    compress: values.compress,
    peakLoad: values['peak-load'],
    // bench/batch.ts's interactive chat: the paper's single question, a 200-token answer.
    interactive: { promptTokens: WORKLOADS['single-question'].promptTokens, outputTokens: 200 },
    batch: { promptTokens: values['input-tokens'], outputTokens: values['output-tokens'] },
    batchPriority: values['batch-priority'],
    admission: values.admission,
    caps: values.caps ?? (values.admission === 'gateway' ? [32, 48, 64, 96, 128, 192, 256] : [1, 2, 4, 8, 16, 32, 48]),
    lanes: values.lanes,
    reserve: values.reserve,
    adaptiveCap: values['adaptive-cap'],
    objectiveFactor: values['objective-factor'],
    ttftObjectiveMs: values['ttft-objective-ms'],
    tpotObjectiveMs: values['tpot-objective-ms'],
    tickMs: values['tick-ms'],
    shed: values.shed ?? false,
    peakConcurrency: values['peak-concurrency'],
    peakRounds: values['peak-rounds'],
    stepNightSeconds: values['step-night-seconds'],
    stepPeakSeconds: values['step-peak-seconds'],
    stepWindowSeconds: values['step-window-seconds'],
    controller: Object.fromEntries(values.controller),
    seed: values.seed,
    outDir: values['out-dir'] ?? path.join(repoRoot(), 'artifacts', 'bench'),
    name: 'batch-day',
  };
}

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : '-');
const ms = (x: number) => formatNumber(x);

function policyRows(r: WorkerCountReport): PolicyRow[] {
  return [r.noBatch, r.bestStatic, r.oracle, r.adaptive];
}

function periodCells(p: Period): (string | number)[] {
  return [
    p.requests,
    `${ms(p.ttftP50Ms)} / ${ms(p.ttftP99Ms)}`,
    `${ms(p.tpotP50Ms)} / ${ms(p.tpotP99Ms)}`,
    pct(p.attainment),
    p.batchTokensPerSecond,
    pct(p.batchShareOfPeak),
  ];
}

/** The tables for one worker count. */
export function renderWorkerCount(report: BatchDayReport, r: WorkerCountReport): string {
  const out: string[] = [];
  const o = r.objectives;
  out.push(
    `## ${r.workers} workers: objectives TTFT p99 <= ${ms(o.ttftP99Ms)} ms, TPOT p99 <= ${ms(o.tpotP99Ms)} ms${o.derived ? ' (from the no-batch day)' : ''}; cluster peak ${formatNumber(r.clusterPeakTokensPerSecond)} batch tok/s; night = hours ${r.rates.nightHours.join(',')}; admission ${report.admission}, GATEWAY_BATCH_RESERVE ${report.reserve}, long-prefill-token-threshold ${report.longPrefillTokenThreshold}`,
  );
  out.push(
    renderTable(
      [
        'policy',
        'setting',
        'requests',
        'TTFT p50/p99 ms',
        'TPOT p50/p99 ms',
        'attainment',
        'batch tok/s',
        'batch % of peak',
        'night batch % of peak',
        'batch in flight / worker',
        'limit / worker',
      ],
      policyRows(r).map((p) => [
        p.policy,
        p.setting ?? '-',
        ...periodCells(p.summary.day),
        pct(p.night.batchShareOfPeak),
        p.policy === 'hourly oracle' ? '-' : p.summary.day.meanInFlight,
        p.policy === 'adaptive' ? p.summary.day.meanLimit : '-',
      ]),
    ),
  );
  out.push('', `### ${r.workers} workers per hour (hour = ${formatNumber(report.hourSeconds)} simulated s): attainment / batch % of peak`);
  out.push(
    renderTable(
      [
        'hour',
        'req/s',
        'no batch TTFT p50/p99',
        'TPOT p50/p99',
        'best static',
        'oracle',
        'oracle setting',
        'adaptive',
        'adaptive TTFT p50/p99',
        'TPOT p50/p99',
        'adaptive in flight / limit',
      ],
      r.rates.hourly.map((rate, h) => {
        const cell = (p: PolicyRow) => `${pct(p.summary.hours[h].attainment)} / ${pct(p.summary.hours[h].batchShareOfPeak)}`;
        const nb = r.noBatch.summary.hours[h];
        const ad = r.adaptive.summary.hours[h];
        return [
          `${h}${r.rates.nightHours.includes(h) ? ' n' : ''}${h === r.rates.peakHour ? ' p' : ''}`,
          rate,
          `${ms(nb.ttftP50Ms)} / ${ms(nb.ttftP99Ms)}`,
          `${ms(nb.tpotP50Ms)} / ${ms(nb.tpotP99Ms)}`,
          cell(r.bestStatic),
          cell(r.oracle),
          r.oracle.hourSettings?.[h] ?? '-',
          cell(r.adaptive),
          `${ms(ad.ttftP50Ms)} / ${ms(ad.ttftP99Ms)}`,
          `${ms(ad.tpotP50Ms)} / ${ms(ad.tpotP99Ms)}`,
          `${formatNumber(ad.meanInFlight)} / ${formatNumber(ad.meanLimit)}`,
        ];
      }),
    ),
  );
  out.push('', `### ${r.workers} workers: static sweep (cap per worker, lane = interactive-only workers)`);
  out.push(
    renderTable(
      ['setting', 'TTFT p99 ms', 'TPOT p99 ms', 'attainment', 'batch % of peak', 'hours meeting'],
      r.sweep.map((s) => [
        `cap ${s.setting.cap}, lane ${s.setting.lane}`,
        s.day.ttftP99Ms,
        s.day.tpotP99Ms,
        pct(s.day.attainment),
        pct(s.day.batchShareOfPeak),
        s.hoursMeeting,
      ]),
    ),
  );
  const a = r.adaptive.summary.day.batchTokens;
  out.push('', `### ${r.workers} workers: adaptive against the baselines`);
  out.push(
    renderTable(
      ['baseline', 'batch tokens', 'adaptive / baseline', 'attainment (baseline)', 'attainment (adaptive)'],
      [r.bestStatic, r.oracle].map((b) => [
        `${b.policy}${b.setting ? ` (${b.setting})` : ''}`,
        b.summary.day.batchTokens,
        b.summary.day.batchTokens > 0 ? pct(a / b.summary.day.batchTokens) : '-',
        pct(b.summary.day.attainment),
        pct(r.adaptive.summary.day.attainment),
      ]),
    ),
  );
  out.push('');
  for (const t of r.targets) out.push(`${t.pass ? 'PASS' : 'FAIL'}  ${r.workers} workers: ${t.name}: ${t.detail}`);
  return out.join('\n');
}

export function renderReport(report: BatchDayReport): string {
  const out: string[] = [];
  out.push(`## peak: closed loop at one simulated ${report.profile} engine (batch requests, a different prompt each)`);
  out.push(
    renderTable(
      ['concurrency', 'requests', 'sim s', 'out tok/s'],
      report.peak.rows.map((p) => [p.concurrency, p.requests, p.simSeconds, p.outputTokensPerSecond]),
    ),
  );
  out.push(
    `interactive saturation: ${formatNumber(report.interactiveSaturation.requestsPerSecond)} req/s per engine at ${report.interactiveSaturation.concurrency} in flight; the lowest concurrency within 95 % of the peak (bench/batch.ts's GATEWAY_BATCH_CONCURRENCY) ${report.peak.bestConcurrency}`,
    '',
  );
  for (const r of report.results) out.push(renderWorkerCount(report, r), '');
  out.push(
    `- results: ${path.relative(process.cwd(), report.json)}; step response: ${report.results.map((r) => path.relative(process.cwd(), r.stepResponse.png)).join(', ')}`,
  );
  return out.join('\n');
}

/** `npm run bench:batch -- --day [options]`: runs, prints the tables, exits 1 when a target is missed. */
export function batchDayMain(argv: readonly string[]): number {
  const options = parseBatchDayArgs(argv);
  const started = Date.now();
  const report = runBatchDay(options, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`${renderReport(report)}\n- wall time ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  return report.results.every((r) => r.targets.every((t) => t.pass)) ? 0 : 1;
}
