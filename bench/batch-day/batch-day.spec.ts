// A tiny compressed day (2 workers, 2 simulated minutes) through every policy of bench/batch-day: the
// invariants, not the targets (those are the benchmark's to report).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { BatchDayReport, runBatchDay } from './benchmark';
import { findProfile } from '@maas/engine-sim';
import { parseBatchDayArgs } from './cli';
import type { BatchPolicy } from './policies';
import { simulateDay } from './simulation';

/**
 * A day of its own (the benchmark's default ServeGen series lives outside the repository), as the
 * options that select it: a campus-like curve at ServeGen's 600 s step, low at night, highest in the afternoon.
 */
function ownDay(dir: string): string[] {
  const series = path.join(dir, 'series.csv');
  const rows = Array.from({ length: 144 }, (_, i) => {
    const hour = (i * 600) / 3600;
    const rate = 400 + 600 * Math.max(0, Math.sin(((hour - 6) / 24) * 2 * Math.PI)) + 50 * Math.cos(i);
    return `${i * 600},${rate.toFixed(4)}`;
  });
  fs.writeFileSync(series, ['t_seconds,requests_per_second', ...rows].join('\n') + '\n');
  return ['--series', series, '--series-day', '0'];
}

describe('bench:batch --day on a tiny day', () => {
  let dir: string;
  let report: BatchDayReport;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-day-'));
    const options = parseBatchDayArgs([
      ...ownDay(dir),
      '--workers',
      '2',
      '--compress',
      '720',
      '--caps',
      '4',
      '--lanes',
      '0,1',
      '--peak-concurrency',
      '16,48',
      '--step-night-seconds',
      '20',
      '--step-peak-seconds',
      '15',
      '--out-dir',
      dir,
    ]);
    report = runBatchDay(options, () => undefined);
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finishes every interactive request under every policy', () => {
    const [r] = report.results;
    expect(r.workers).toBe(2);
    expect(r.runs.map((x) => x.policy)).toEqual(['no batch', 'cap 4, lane 0', 'cap 4, lane 1', 'adaptive']);
    for (const run of r.runs) {
      expect(run.arrived).toBeGreaterThan(500);
      expect({ policy: run.policy, finished: run.finished, failed: run.failed }).toEqual({
        policy: run.policy,
        finished: run.arrived,
        failed: 0,
      });
    }
    expect(r.stepResponse.interactiveFinished).toBe(r.stepResponse.interactiveArrived);
  });

  it('runs batch work under the batch policies only', () => {
    const [r] = report.results;
    for (const run of r.runs) {
      if (run.policy === 'no batch') expect(run.batchTokens).toBe(0);
      else expect({ policy: run.policy, positive: run.batchTokens > 0 }).toEqual({ policy: run.policy, positive: true });
    }
    expect(r.noBatch.summary.day.batchTokens).toBe(0);
    // A lane keeps one of the two workers free of batch work: the same cap gives less batch throughput.
    const byName = new Map(r.runs.map((x) => [x.policy, x.batchTokens]));
    expect(byName.get('cap 4, lane 1')!).toBeLessThan(byName.get('cap 4, lane 0')!);
  });

  it('derives the objectives from the no-batch day and reports every hour and target', () => {
    const [r] = report.results;
    expect(r.objectives.ttftP99Ms).toBeCloseTo(1.5 * r.noBatch.summary.day.ttftP99Ms, 6);
    expect(r.objectives.tpotP99Ms).toBeCloseTo(1.5 * r.noBatch.summary.day.tpotP99Ms, 6);
    expect(r.noBatch.summary.hours).toHaveLength(24);
    expect(r.oracle.hourSettings).toHaveLength(24);
    // Each hour the oracle runs the setting with most batch tokens among those meeting the objectives that hour (no batch if none).
    r.oracle.hourSettings!.forEach((name, h) => {
      const hour = r.oracle.summary.hours[h];
      if (name === 'no batch') expect(hour.batchTokens).toBe(0);
      else expect(hour.attainment).toBeGreaterThanOrEqual(0.99);
    });
    expect(r.oracle.summary.day.batchTokens).toBe(r.oracle.summary.hours.reduce((s, h) => s + h.batchTokens, 0));
    expect(r.targets.map((t) => t.name)).toHaveLength(5);
  });

  it('writes the JSON and a step-response PNG that decodes', () => {
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'batch-day.json'), 'utf8')) as { results: { workers: number }[] };
    expect(json.results.map((x) => x.workers)).toEqual([2]);
    const png = PNG.sync.read(fs.readFileSync(path.join(dir, 'batch-step-response.png')));
    expect(png.width).toBeGreaterThan(100);
    expect(png.height).toBeGreaterThan(100);
    // The TTFT series is drawn in red somewhere on the canvas.
    let red = 0;
    for (let i = 0; i < png.data.length; i += 4) if (png.data[i] === 214 && png.data[i + 1] === 39 && png.data[i + 2] === 40) red += 1;
    expect(red).toBeGreaterThan(50);
    const [r] = report.results;
    expect(r.stepResponse.timeline).toHaveLength(35);
  });
});

describe('bench:batch --day --admission gateway on a tiny day', () => {
  it("admits batch work through the gateway's batch slots and lane filter, and finishes every interactive request", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-day-gateway-'));
    try {
      const options = parseBatchDayArgs(
        [...ownDay(dir), '--admission', 'gateway', '--workers', '2', '--compress', '1440', '--caps', '256', '--lanes', '0'].concat([
          '--peak-concurrency',
          '16,48',
          '--step-night-seconds',
          '10',
          '--step-peak-seconds',
          '10',
          '--out-dir',
          dir,
        ]),
      );
      const [r] = runBatchDay(options, () => undefined).results;
      expect(r.runs.map((x) => x.policy)).toEqual(['no batch', 'cap 256, lane 0', 'adaptive']);
      for (const run of r.runs)
        expect({ policy: run.policy, finished: run.finished }).toEqual({ policy: run.policy, finished: run.arrived });
      const tokens = new Map(r.runs.map((x) => [x.policy, x.batchTokens]));
      expect(tokens.get('no batch')).toBe(0);
      expect(tokens.get('cap 256, lane 0')).toBeGreaterThan(0);
      expect(tokens.get('adaptive')).toBeGreaterThan(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('simulateDay: shedding over the limit, as the gateway does', () => {
  it('cancels the youngest batch requests over a cut limit at the tick and takes back their tokens', () => {
    const cutAtMs = 20_000;
    const policy: BatchPolicy = {
      name: 'cut',
      admission: 'limits',
      shed: true,
      // six batch requests per worker, then a cut to one: five per worker are shed at the tick
      update: (nowMs, _samples, workers) => new Map(workers.map((w) => [w.workerId, nowMs < cutAtMs ? 6 : 1])),
    };
    const result = simulateDay({
      profile: findProfile('a100-gpt-oss-20b'),
      workers: 2,
      schedule: { stepSeconds: 40, rates: [4] },
      bucketSeconds: 10,
      interactive: { promptTokens: 200, outputTokens: 50 },
      batch: { promptTokens: 6000, outputTokens: 2000 },
      batchPriority: 1,
      policy,
      tickMs: 1000,
      timelineWindowSeconds: 5,
      seed: 3,
    });
    const before = result.timeline.filter((p) => p.atSeconds < cutAtMs / 1000 && p.atSeconds >= 2);
    const after = result.timeline.filter((p) => p.atSeconds >= cutAtMs / 1000);
    expect(Math.max(...before.map((p) => p.batchInFlight))).toBe(12);
    // the tick's record is taken after shedding: never over the limit once cut
    expect(Math.max(...after.map((p) => p.batchInFlight))).toBe(2);
    expect(result.batchShed).toBeGreaterThanOrEqual(10);
    // shed tokens taken back from their buckets: the total is the buckets' sum, none negative
    expect(result.buckets.reduce((s, b) => s + b.batchTokens, 0)).toBe(result.batchTokens);
    for (const b of result.buckets) expect(b.batchTokens).toBeGreaterThanOrEqual(0);
    expect(result.interactiveFinished).toBe(result.interactiveArrived);
  });
});
