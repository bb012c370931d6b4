import {
  BatchController,
  BatchControllerOptions,
  DEFAULT_BATCH_OBJECTIVES,
  InteractiveSample,
  latencyP99,
  objectivesFor,
  pacedLimits,
  parseBatchObjectives,
  WorkerLoad,
} from './batch-controller';

import recording from './batch-controller.recording.json';

const OBJECTIVES = { ttftP99Ms: 1500, tpotP99Ms: 80 };

/** One second of a recording: interactive requests seen, and each worker's heartbeat (batch in flight filled in from the limit). */
interface Second {
  samples?: (Omit<InteractiveSample, 'atMs'> & { offsetMs?: number })[];
  workers: Omit<WorkerLoad, 'batchInFlight'>[];
}

/**
 * Replays seconds through a controller, the batch backlog filling whatever limit it gave (as a queued
 * backlog does); returns each worker's limit after each second.
 */
function replay(controller: BatchController, seconds: readonly Second[], startMs = 0): Map<string, number>[] {
  const out: Map<string, number>[] = [];
  seconds.forEach((second, i) => {
    const now = startMs + (i + 1) * 1000;
    const samples = (second.samples ?? []).map(({ offsetMs, ...s }) => ({ ...s, atMs: now - 1000 + (offsetMs ?? 500) }));
    const workers = second.workers.map((w) => ({ ...w, batchInFlight: controller.limitFor(w.workerId) }));
    out.push(new Map(controller.update(now, samples, workers)));
  });
  return out;
}

const repeat = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const idle = (workerId: string, extra: Partial<WorkerLoad> = {}) => ({ workerId, running: 0, waiting: 0, kvUsage: 0.2, ...extra });
/** Interactive requests over a second, TTFT and TPOT as a share of their objectives. */
const requests = (n: number, ttftShare: number, tpotShare = 0.5, workerId?: string) =>
  repeat(n, (i) => ({
    workerId,
    offsetMs: (i * 1000) / n,
    ttftMs: OBJECTIVES.ttftP99Ms * ttftShare * (0.6 + (0.4 * i) / Math.max(1, n - 1)),
    tpotMs: OBJECTIVES.tpotP99Ms * tpotShare,
  }));
const limits = (runs: Map<string, number>[], id = 'w1') => runs.map((m) => m.get(id));
const controller = (o: Partial<BatchControllerOptions> = {}) => new BatchController({ objectives: OBJECTIVES, ceiling: 32, ...o });

describe('BatchController', () => {
  it('climbs to the ceiling on a steady night load, in a few updates, and stays there', () => {
    const c = controller();
    const night = replay(
      c,
      repeat(30, () => ({ samples: requests(1, 0.3), workers: [idle('w1', { running: 0 })] })),
    );
    const l = limits(night);
    expect(l[0]).toBeGreaterThan(1);
    expect(l.indexOf(32)).toBeGreaterThan(0);
    expect(l.indexOf(32)).toBeLessThanOrEqual(6); // slow start doubles: 1 → 32 in five
    expect(l.slice(l.indexOf(32))).toEqual(repeat(l.length - l.indexOf(32), () => 32));
    for (let i = 1; i < l.length; i++) expect(l[i]!).toBeGreaterThanOrEqual(l[i - 1]!);
  });

  it('never exceeds a worker’s capacity, nor goes below the floor', () => {
    const c = controller({ floor: 2 });
    const run = replay(c, [
      ...repeat(10, () => ({ workers: [idle('w1', { capacity: 12 })] })),
      ...repeat(10, () => ({ samples: requests(20, 3), workers: [idle('w1', { capacity: 12 })] })),
    ]);
    expect(Math.max(...limits(run).map(Number))).toBe(12);
    expect(limits(run).at(-1)).toBe(2);
  });

  it('cuts multiplicatively within a few updates of a burst over the TTFT objective', () => {
    const c = controller();
    const run = replay(c, [
      ...repeat(20, () => ({ samples: requests(5, 0.4), workers: [idle('w1')] })),
      ...repeat(4, () => ({ samples: requests(40, 1.6), workers: [idle('w1', { running: 40 })] })),
    ]);
    const l = limits(run);
    expect(l[19]).toBe(32);
    expect(l[20]).toBe(16);
    expect(l[21]).toBe(8);
    expect(l[23]!).toBeLessThanOrEqual(4);
  });

  it('cuts on a TPOT p99 over its objective', () => {
    const c = controller();
    const run = replay(c, [...repeat(10, () => ({ workers: [idle('w1')] })), { samples: requests(30, 0.4, 1.2), workers: [idle('w1')] }]);
    expect(limits(run).slice(-2)).toEqual([32, 16]);
  });

  it('cuts once per piece of evidence: samples from before a cut do not cut again', () => {
    const c = controller();
    const run = replay(c, [
      ...repeat(10, () => ({ workers: [idle('w1')] })),
      { samples: requests(30, 1.5), workers: [idle('w1')] },
      ...repeat(5, () => ({ workers: [idle('w1')] })), // the late samples stay in the window, nothing new arrives
    ]);
    expect(limits(run).slice(-6)).toEqual([16, 16, 16, 18, 20, 22]); // one cut, a pause, then a climb
  });

  it('holds on a flat signal near the objective: no oscillation', () => {
    for (const shares of [[0.9], [0.85, 0.97], [0.82, 0.99, 0.9]]) {
      const c = controller({ initial: 12 });
      const run = replay(
        c,
        repeat(60, (i) => ({ samples: requests(20, shares[i % shares.length]), workers: [idle('w1', { running: 30 })] })),
      );
      expect(new Set(limits(run))).toEqual(new Set([12]));
    }
  });

  it('after a cut, climbs back additively once the objective holds again, pausing first', () => {
    const c = controller();
    const run = replay(c, [
      ...repeat(8, () => ({ workers: [idle('w1')] })),
      { samples: requests(20, 1.4), workers: [idle('w1')] },
      ...repeat(12, () => ({ samples: requests(20, 0.4), workers: [idle('w1')] })),
    ]);
    const after = limits(run).slice(8);
    expect(after.slice(0, 3)).toEqual([16, 16, 16]); // cut, then held for holdAfterCutMs
    expect(after.slice(3)).toEqual([18, 20, 22, 24, 26, 28, 30, 32, 32, 32]); // +ceiling/16 per update, not doubling
  });

  it('is per worker: a worker with interactive requests queueing is cut, an idle one is not', () => {
    const c = controller();
    const run = replay(c, [
      ...repeat(10, () => ({ workers: [idle('w1'), idle('w2')] })),
      ...repeat(3, () => ({
        samples: requests(20, 1.3, 0.5, 'w1'),
        workers: [idle('w1', { running: 40, waiting: 6, kvUsage: 0.7 }), idle('w2')],
      })),
    ]);
    expect(limits(run, 'w1').slice(-4)).toEqual([32, 16, 8, 4]);
    expect(limits(run, 'w2').slice(-4)).toEqual([32, 32, 32, 32]);
  });

  it('samples without a worker count for every worker of the model', () => {
    const c = controller();
    const run = replay(c, [
      ...repeat(10, () => ({ workers: [idle('w1'), idle('w2')] })),
      { samples: requests(20, 2), workers: [idle('w1'), idle('w2')] },
    ]);
    expect([run.at(-1)!.get('w1'), run.at(-1)!.get('w2')]).toEqual([16, 16]);
  });

  it.each<[string, 'cut' | 'hold' | 'raise', Partial<WorkerLoad>]>([
    ['requests waiting in its queue', 'cut', { waiting: 2 }],
    ['KV cache near full', 'cut', { kvUsage: 0.95 }],
    ['KV cache above the headroom', 'hold', { kvUsage: 0.8 }],
    ['a step longer than the TPOT objective while interactive requests run there', 'cut', { stepMs: 95, running: 40 }],
    ['a step near the TPOT objective while interactive requests run there', 'hold', { stepMs: 70, running: 40 }],
    ['a long step with batch work alone on it (night)', 'raise', { stepMs: 150 }],
    ['nothing', 'raise', {}],
  ])('warns early from heartbeats alone, no interactive sample: %s → %s', (_case, verdict, load) => {
    const c = controller();
    // A cut first, so the worker is past slow start and its last cut is long over.
    replay(c, [{ samples: requests(5, 2), workers: [idle('w1')] }, ...repeat(10, () => ({ workers: [idle('w1')] }))]);
    const before = c.limitFor('w1');
    const limit = c.update(20_000, [], [{ ...idle('w1', load), running: load.running ?? before, batchInFlight: before }]).get('w1')!;
    expect(c.verdictFor('w1')).toBe(verdict);
    if (verdict === 'cut') expect(limit).toBe(Math.max(1, Math.floor(before / 2)));
    if (verdict === 'hold') expect(limit).toBe(before);
    if (verdict === 'raise') expect(limit).toBeGreaterThan(before);
  });

  it('bounds TTFT by the step time too: a first token takes two steps (the one in flight, then its own)', () => {
    const objectives = { ttftP99Ms: 100, tpotP99Ms: 80 };
    const verdictAt = (stepMs: number, firstTokenSteps?: number) => {
      const c = new BatchController({ objectives, ceiling: 32, initial: 8, firstTokenSteps });
      c.update(1000, [], [{ ...idle('w1', { running: 40, stepMs }), batchInFlight: 8 }]);
      return c.verdictFor('w1');
    };
    expect(verdictAt(30)).toBe('raise'); // 2 × 30 ms = 60 % of the TTFT objective
    expect(verdictAt(45)).toBe('hold'); // 90 %: within the objective, above the headroom
    expect(verdictAt(55)).toBe('cut'); // 110 %, though 55 ms is well within the TPOT objective
    expect(verdictAt(55, 0)).toBe('raise'); // without the bound, TPOT alone: 69 %, within the headroom
  });

  it('stops admitting at once on an interactive surge, then waits for samples since, and more room, before the first batch request back, and for its cost before more', () => {
    const c = controller({ floor: 0, initial: 32 });
    // a worker at its ceiling, batch work alone beside a few interactive requests
    const quiet = (t: number) =>
      c.update(
        t,
        requests(2, 0.3, 0.3, 'w1').map((r) => ({ ...r, atMs: t - 500 })),
        [{ ...idle('w1', { running: 32 + 10 }), batchInFlight: 32 }],
      );
    for (let t = 1000; t <= 20_000; t += 1000) quiet(t);
    expect(c.limitFor('w1')).toBe(32);
    // the interactive rate steps up: 10 → 16 → 24 running, before any of them completes
    c.update(21_000, [], [{ ...idle('w1', { running: 32 + 16 }), batchInFlight: 32 }]);
    expect(c.limitFor('w1')).toBe(32); // +6: within noise
    c.update(22_000, [], [{ ...idle('w1', { running: 32 + 24 }), batchInFlight: 32 }]);
    expect(c.verdictFor('w1')).toBe('stop');
    expect(c.limitFor('w1')).toBe(0);
    // batch work drained; no sample taken since the stop: no probe however quiet the heartbeat
    for (let t = 23_000; t <= 30_000; t += 1000) c.update(t, [], [{ ...idle('w1', { running: 24 }), batchInFlight: 0 }]);
    expect(c.limitFor('w1')).toBe(0);
    // samples since the stop at 70 % of the objectives: room for a further request, not for the first one back
    const at = (t: number, share: number) => requests(10, share, share, 'w1').map((r) => ({ ...r, atMs: t - 500 }));
    for (let t = 31_000; t <= 35_000; t += 1000) c.update(t, at(t, 0.7), [{ ...idle('w1', { running: 24 }), batchInFlight: 0 }]);
    expect(c.limitFor('w1')).toBe(0);
    // at half the objectives it probes again
    c.update(46_000, at(46_000, 0.5), [{ ...idle('w1', { running: 24 }), batchInFlight: 0 }]);
    const probe = c.limitFor('w1');
    expect(probe).toBeGreaterThan(0);
    // the probe runs; samples keep coming, all of first tokens from before it: no further raise
    for (let t = 48_000; t <= 52_000; t += 1000) {
      const before = at(t, 0.5).map((r) => ({ ...r, atMs: 45_900 }));
      c.update(t, before, [{ ...idle('w1', { running: 24 + probe }), batchInFlight: probe }]);
    }
    expect(c.limitFor('w1')).toBe(probe);
    // samples of first tokens since the probe, within the headroom: it grows
    c.update(53_000, at(53_000, 0.5), [{ ...idle('w1', { running: 24 + probe }), batchInFlight: probe }]);
    expect(c.limitFor('w1')).toBeGreaterThan(probe);
  });

  it('spaces cuts from heartbeats so the last one can show before the next', () => {
    const c = controller();
    const run = replay(c, [
      ...repeat(8, () => ({ workers: [idle('w1')] })),
      ...repeat(5, () => ({ workers: [idle('w1', { waiting: 3 })] })),
    ]);
    expect(limits(run).slice(-6)).toEqual([32, 16, 16, 8, 8, 4]);
  });

  it('with no interactive request at all (night), heartbeats alone keep it at the ceiling', () => {
    const c = controller({ ceiling: 48 });
    const run = replay(
      c,
      repeat(40, () => ({ workers: [idle('w1', { stepMs: 60, kvUsage: 0.5 })] })),
    );
    expect(limits(run).at(-1)).toBe(48);
  });

  it('does not raise a limit batch work is not using', () => {
    const c = controller({ initial: 8 });
    for (let t = 1; t <= 10; t++) c.update(t * 1000, [], [{ ...idle('w1'), batchInFlight: 2 }]);
    expect(c.limitFor('w1')).toBe(8);
  });

  it('does not climb back before a cut has acted: batch requests admitted before it still run above it', () => {
    const c = controller();
    replay(
      c,
      repeat(8, () => ({ workers: [idle('w1')] })),
    );
    c.update(
      9_000,
      requests(10, 2).map((s) => ({ ...s, atMs: 8_500 })),
      [{ ...idle('w1'), batchInFlight: 32 }],
    );
    expect(c.limitFor('w1')).toBe(16);
    // One finishes a second; interactive requests keep missing meanwhile: no deeper cut, it would only delay the restart.
    for (let t = 10; t <= 20; t++) {
      const late = requests(10, 2).map((s) => ({ ...s, atMs: t * 1000 - 500 }));
      c.update(t * 1000, late, [{ ...idle('w1'), waiting: 1, batchInFlight: 32 - (t - 10) }]);
      expect(c.verdictFor('w1')).toBe('hold');
    }
    expect(c.limitFor('w1')).toBe(16);
    c.update(20_500, [{ atMs: 20_400, ttftMs: 3000 }], [{ ...idle('w1'), batchInFlight: 16 }]);
    expect(c.limitFor('w1')).toBe(8); // acted, and still missing: the next cut
    c.update(20_600, [], [{ ...idle('w1'), batchInFlight: 8 }]);
    for (let t = 24; t <= 27; t++) c.update(t * 1000, [], [{ ...idle('w1'), batchInFlight: 8 }]);
    expect(c.limitFor('w1')).toBeGreaterThan(8);
  });

  it('cuts from what batch work is using when that is below the limit', () => {
    const c = controller();
    replay(
      c,
      repeat(8, () => ({ workers: [idle('w1')] })),
    );
    c.update(9_000, [{ atMs: 8_900, ttftMs: 5000 }], [{ ...idle('w1'), batchInFlight: 10 }]);
    expect(c.limitFor('w1')).toBe(5);
  });

  it('forgets samples past the window and workers that are gone', () => {
    const c = controller({ windowMs: 5_000 });
    replay(
      c,
      repeat(10, () => ({ workers: [idle('w1'), idle('w2')] })),
    );
    c.update(11_000, [{ atMs: 10_900, workerId: 'w1', ttftMs: 400 }], [{ ...idle('w1'), batchInFlight: 32 }]);
    expect(c.p99().ttftMs).toBe(400);
    expect(c.limitFor('w2')).toBe(1); // gone: a new worker starts again from the floor
    c.update(17_000, [], [{ ...idle('w1'), batchInFlight: 32 }]);
    expect(c.p99()).toEqual({ ttftMs: undefined, tpotMs: undefined });
  });

  it('takes the nearest-rank p99', () => {
    const samples = repeat(200, (i) => ({ atMs: 0, ttftMs: i + 1, tpotMs: i < 100 ? 10 : undefined }));
    expect(latencyP99(samples)).toEqual({ ttftMs: 198, tpotMs: 10 });
  });
});

describe('GATEWAY_BATCH_OBJECTIVES', () => {
  it('reads objectives per model, the missing one from *', () => {
    const c = parseBatchObjectives('{"a": {"ttftP99Ms": 800, "tpotP99Ms": 40}, "b": {"tpotP99Ms": 60}, "*": {"ttftP99Ms": 2000}}', 'K');
    expect(objectivesFor(c, 'a')).toEqual({ ttftP99Ms: 800, tpotP99Ms: 40 });
    expect(objectivesFor(c, 'b')).toEqual({ ttftP99Ms: 2000, tpotP99Ms: 60 });
    expect(objectivesFor(c, 'other')).toEqual({ ttftP99Ms: 2000, tpotP99Ms: DEFAULT_BATCH_OBJECTIVES.tpotP99Ms });
    expect(objectivesFor(parseBatchObjectives('', 'K'), 'm')).toEqual(DEFAULT_BATCH_OBJECTIVES);
  });

  it.each(['nope', '[]', '{"m": 5}', '{"m": {"ttftP99Ms": 0}}', '{"m": {"ttftP99Ms": "1s"}}', '{"m": {"ttft": 100}}'])(
    'refuses %s, naming the key',
    (raw) => expect(() => parseBatchObjectives(raw, 'GATEWAY_BATCH_OBJECTIVES')).toThrow(/^GATEWAY_BATCH_OBJECTIVES: /),
  );
});

/** The recording's steps as `update` takes them. */
/** The controller as it ran when the recording was made: floor 1, no surge, no first-token step bound, one headroom. */
const RECORDED_CONTROLLER: Partial<BatchControllerOptions> = { floor: 1, surgeRise: 0, firstTokenSteps: 0, probeHeadroom: 0.8 };

const recorded = recording.steps.map((s) => ({
  nowMs: s.t,
  samples: s.samples.map((x): InteractiveSample => ({ atMs: x.t, workerId: 'w1', ttftMs: x.ttft, tpotMs: x.tpot })),
  workers: [{ workerId: 'w1', ...s.worker }] as WorkerLoad[],
  limit: s.limit,
}));

describe('BatchController on a recorded run (batch alone, interactive streams arrive, then leave)', () => {
  it('replays to the limits it gave when it ran (with the signals added since turned off)', () => {
    const c = new BatchController({
      objectives: recording.objectives,
      ceiling: recording.ceiling,
      ...RECORDED_CONTROLLER,
    });
    expect(recorded.map((s) => c.update(s.nowMs, s.samples, s.workers).get('w1'))).toEqual(recorded.map((s) => s.limit));
  });

  it('stops admitting batch work at the update that sees the interactive streams arrive, before any waits or misses', () => {
    const c = new BatchController({ objectives: recording.objectives, ceiling: recording.ceiling });
    const limits = recorded.map((s) => c.update(s.nowMs, s.samples, s.workers).get('w1')!);
    const arrived = recorded.findIndex((s) => s.workers[0].running - s.workers[0].batchInFlight >= 8);
    const queued = recorded.findIndex((s) => s.workers[0].waiting > 0);
    expect(arrived).toBeGreaterThan(0);
    expect(arrived).toBeLessThan(queued);
    expect(limits[arrived - 1]).toBe(recording.ceiling);
    expect(limits[arrived]).toBe(0); // the floor
  });

  it('climbs to the ceiling while batch runs alone, cuts when a request waits in the worker, and is back at the ceiling after', () => {
    const limits = recorded.map((s) => s.limit);
    const firstInteractive = recorded.findIndex((s) => s.samples.length > 0);
    const lastInteractive = recorded.findLastIndex((s) => s.samples.length > 0);
    const firstBatch = recorded.findIndex((s) => s.workers[0].batchInFlight > 0);
    expect(limits.indexOf(recording.ceiling) - firstBatch).toBeLessThanOrEqual(6);
    expect(Math.max(...limits)).toBeLessThanOrEqual(recording.ceiling);
    const queued = recorded.findIndex((s) => s.workers[0].waiting > 0);
    expect(queued).toBeGreaterThan(firstInteractive);
    expect(limits[queued]).toBeLessThanOrEqual(limits[queued - 1] / 2);
    expect(limits.slice(lastInteractive + 1).at(-1)).toBe(recording.ceiling);
  });

  it('with tighter objectives, cuts at the first update that sees a request miss them', () => {
    const objectives = { ttftP99Ms: 150, tpotP99Ms: recording.objectives.tpotP99Ms };
    const c = new BatchController({ objectives, ceiling: recording.ceiling, ...RECORDED_CONTROLLER });
    const limits = recorded.map((s) => c.update(s.nowMs, s.samples, s.workers).get('w1')!);
    const miss = recorded.findIndex((s) => s.samples.some((x) => x.ttftMs > objectives.ttftP99Ms));
    expect(miss).toBeGreaterThan(0);
    expect(limits.slice(0, miss).every((l, i) => i === 0 || l >= limits[i - 1])).toBe(true);
    expect(limits[miss]).toBeLessThan(limits[miss - 1]);
  });
});

describe('pacedLimits', () => {
  // running: batch in flight plus `others` (interactive requests, other gateways' batch work)
  const load = (workerId: string, batchInFlight: number, others: number): WorkerLoad => ({
    workerId,
    running: batchInFlight + others,
    waiting: 0,
    batchInFlight,
  });
  it.each<[string, number, number, number, number, number]>([
    // name, controller limit, batch in flight, other requests running, per update, allowed
    ['a raise by many admits one more on a worker running interactive requests', 16, 4, 3, 1, 5],
    ['a limit one above passes as it is', 5, 4, 3, 1, 5],
    ['a limit at what runs passes', 4, 4, 3, 1, 4],
    ['a cut below what runs passes as it is', 2, 4, 3, 1, 2],
    ['an empty worker with interactive requests gets one', 8, 0, 2, 1, 1],
    ['a larger pace admits that many', 16, 4, 3, 3, 7],
    ['a worker running only this batch work is not paced (nothing to protect)', 16, 4, 0, 1, 16],
    ['an idle worker is not paced', 8, 0, 0, 1, 8],
  ])('%s', (_case, limit, inFlight, others, perUpdate, allowed) => {
    expect(pacedLimits(new Map([['w', limit]]), [load('w', inFlight, others)], perUpdate).get('w')).toBe(allowed);
  });

  it('paces a climb beside interactive requests to one more per update, reaching the ceiling', () => {
    const c = new BatchController({ objectives: OBJECTIVES, ceiling: 12 });
    let inFlight = 0;
    const seen: number[] = [];
    for (let t = 0; t < 20; t++) {
      const worker = { workerId: 'w', running: inFlight + 2, waiting: 0, batchInFlight: inFlight, kvUsage: 0.1 };
      inFlight = pacedLimits(c.update(t * 1000, [], [worker]), [worker]).get('w')!;
      seen.push(inFlight);
    }
    expect(seen.every((n, i) => i === 0 || n - seen[i - 1] <= 1)).toBe(true);
    expect(seen.at(-1)).toBe(12);
  });
});
