import type { RequestCompleted, WorkerRegistered } from '@maas/contracts';
import { DemandSeries } from './demand-series';

const T0 = Date.parse('2026-01-01T00:00:00Z');
let n = 0;
const usage = (model: string, startedMs: number, finishedMs: number, o: Partial<RequestCompleted> = {}): RequestCompleted => ({
  requestId: `r-${(n += 1)}`,
  keyId: 'k',
  userId: 'u',
  model,
  workerId: 'w',
  endpoint: 'chat.completions',
  kind: 'interactive',
  status: 200,
  promptTokens: 100,
  completionTokens: 50,
  ttftMs: 200,
  latencyMs: finishedMs - startedMs,
  startedAt: new Date(T0 + startedMs).toISOString(),
  finishedAt: new Date(T0 + finishedMs).toISOString(),
  ...o,
});
const worker = (id: string, capacity = 16): WorkerRegistered => ({
  workerId: id,
  url: 'http://x',
  hardware: 'gpu',
  capacity,
  vmId: 'v',
  runtime: { kind: 'vllm' },
  models: [{ id: 'm', capabilities: ['chat'] }],
  sentAt: '',
});

describe('DemandSeries', () => {
  it('aggregates requests per model per 10 s interval, closing after the lateness window', () => {
    const s = new DemandSeries(10_000, 5_000);
    s.close(T0 + 5_000); // starts the clock at T0
    s.requestCompleted(usage('m', 1000, 3000));
    s.requestCompleted(usage('m', 2000, 9000, { status: 502, ttftMs: 800 }));
    s.requestCompleted(usage('m', 11_000, 12_000));
    expect(s.close(T0 + 14_000)).toEqual([]); // still open for late events
    const [a] = s.close(T0 + 15_000);
    expect(a).toMatchObject({
      model: 'm',
      intervalStart: new Date(T0).toISOString(),
      intervalSeconds: 10,
      requestRate: 0.2,
      inputTokensPerSecond: 20,
      outputTokensPerSecond: 10,
      errors: 1,
      ttftP50Ms: 200,
      ttftP95Ms: 800,
    });
    expect(a.concurrency).toBeCloseTo((2000 + 7000) / 10_000);
  });

  it('splits a long request’s busy time across the intervals it spans', () => {
    const s = new DemandSeries(10_000, 0);
    s.close(T0);
    s.requestCompleted(usage('m', 5000, 25_000));
    const out = s.close(T0 + 30_000);
    expect(out.map((a) => a.concurrency)).toEqual([0.5, 1, 0.5]);
    expect(out.map((a) => a.requestRate)).toEqual([0, 0, 0.1]);
  });

  it('does not count usage for intervals already published', () => {
    const s = new DemandSeries(10_000, 0);
    s.workerRegistered(worker('w'), T0);
    s.close(T0 + 10_000);
    s.requestCompleted(usage('m', 1000, 2000));
    s.heartbeat({ workerId: 'w', load: { running: 0, waiting: 0 }, sentAt: '' }, T0 + 15_000);
    const out = s.close(T0 + 20_000);
    expect(out.map((a) => a.intervalStart)).toEqual([new Date(T0 + 10_000).toISOString()]);
    expect(out[0].requestRate).toBe(0);
  });

  it('reports queue depth and ready workers from heartbeats, zero demand included', () => {
    const s = new DemandSeries(10_000, 0);
    s.workerRegistered(worker('w1'), T0);
    s.heartbeat({ workerId: 'w1', load: { running: 3, waiting: 2 }, sentAt: '' }, T0 + 9000);
    const [a] = s.close(T0 + 10_000);
    expect(a).toMatchObject({ model: 'm', requestRate: 0, queueDepth: 2, concurrency: 5, readyWorkers: 1, capacityPerWorker: 16 });
    const later = s.close(T0 + 30_000);
    expect(later.map((x) => [x.requestRate, x.readyWorkers])).toEqual([
      [0, 0],
      [0, 0],
    ]); // zero demand, no workers: still said
  });

  it('counts requests gateways hold for a model with no worker as waiting demand, until their reports stop or go stale', () => {
    const s = new DemandSeries(10_000, 5_000);
    s.close(T0 + 5_000);
    s.pendingReported({ gatewayId: 'g1', reportedAt: '', models: [{ model: 'cold', held: 2 }] }, T0 + 11_000);
    s.pendingReported({ gatewayId: 'g2', reportedAt: '', models: [{ model: 'cold', held: 1 }] }, T0 + 12_000);
    const [held] = s.close(T0 + 15_000);
    expect(held).toMatchObject({ model: 'cold', queueDepth: 3, concurrency: 3, readyWorkers: 0 });
    s.pendingReported({ gatewayId: 'g2', reportedAt: '', models: [] }, T0 + 16_000); // g2 holds nothing now; g1 has gone silent
    const [after] = s.close(T0 + 25_000);
    expect(after).toMatchObject({ model: 'cold', queueDepth: 0, concurrency: 0 });
  });

  it('falls silent only an hour after a model’s last worker or request', () => {
    const s = new DemandSeries(10_000, 0, 10_000, 3_600_000);
    s.workerRegistered(worker('w1'), T0);
    s.close(T0 + 10_000);
    s.workerLeft('w1');
    expect(s.close(T0 + 3_600_000).length).toBeGreaterThan(0);
    expect(s.close(T0 + 3_620_000 + 10_000)).toEqual([]);
  });

  it('forgets a model an hour after its last activity, so the set of models stays bounded', () => {
    const s = new DemandSeries(10_000, 0, 10_000, 3_600_000);
    s.close(T0);
    for (let i = 0; i < 100; i++) s.requestCompleted(usage(`made-up-${i}`, 1000, 2000));
    s.requestCompleted(usage('m', 1000, 2000));
    expect(new Set(s.close(T0 + 10_000).map((a) => a.model)).size).toBe(101);
    s.requestCompleted(usage('m', 3_600_000, 3_610_000));
    const later = s.close(T0 + 3_620_000);
    expect(new Set(later.map((a) => a.model))).toEqual(new Set(['m'])); // the others fell silent and were dropped
    s.requestCompleted(usage('made-up-1', 3_625_000, 3_626_000)); // a forgotten model comes back with new traffic
    expect(new Set(s.close(T0 + 3_630_000).map((a) => a.model))).toEqual(new Set(['m', 'made-up-1']));
  });

  describe('batch work', () => {
    it('counts batch requests apart: they are not demand for more replicas', () => {
      const s = new DemandSeries(10_000, 0);
      s.close(T0);
      s.workerRegistered(worker('w1'), T0);
      s.heartbeat({ workerId: 'w1', load: { running: 6, waiting: 0 }, sentAt: '' } as never, T0 + 9_000);
      s.requestCompleted(usage('m', 1000, 3000));
      for (let i = 0; i < 5; i += 1) s.requestCompleted(usage('m', 0, 9_999, { kind: 'batch', ttftMs: 9000, promptTokens: 6000 }));
      const [a] = s.close(T0 + 10_000);
      expect(a).toMatchObject({
        requestRate: 0.1,
        batchRequestRate: 0.5,
        inputTokensPerSecond: 10,
        ttftP95Ms: 200,
        batchBacklog: 0,
        batchDeadline: null,
      });
      // six running on the worker, five of them batch (busy the whole interval): one interactive
      expect(a.concurrency).toBeCloseTo(1);
    });

    it('reports the latest backlog per model, even for a model no worker serves, until the report goes stale', () => {
      const s = new DemandSeries(10_000, 0, 10_000, 3_600_000, 60_000);
      s.close(T0);
      const deadline = new Date(T0 + 86_400_000).toISOString();
      s.backlogReported(
        { reportedAt: '', models: [{ model: 'cold', requests: 2000, inputTokens: 12_272_000, batches: 1, deadline }] },
        T0 + 5_000,
      );
      const [a] = s.close(T0 + 10_000);
      expect(a).toMatchObject({
        model: 'cold',
        requestRate: 0,
        readyWorkers: 0,
        batchBacklog: 2000,
        batchBacklogInputTokens: 12_272_000,
        batchDeadline: deadline,
      });
      // a newer report without the model: its backlog is done
      s.backlogReported({ reportedAt: '', models: [] }, T0 + 15_000);
      expect(s.close(T0 + 20_000)[0]).toMatchObject({ model: 'cold', batchBacklog: 0, batchDeadline: null });
      // a report nobody repeats stops counting after 60 s
      s.backlogReported(
        { reportedAt: '', models: [{ model: 'cold', requests: 10, inputTokens: 60_000, batches: 1, deadline }] },
        T0 + 25_000,
      );
      expect(s.close(T0 + 30_000)[0].batchBacklog).toBe(10);
      expect(s.close(T0 + 90_000).every((x) => x.batchBacklog === 0)).toBe(true);
    });
  });
});
