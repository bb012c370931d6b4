import type { MetricAggregated } from '@maas/contracts';
import { rollUp } from './rollup';

const part = (i: number, o: Partial<MetricAggregated>): MetricAggregated => ({
  model: 'm',
  intervalStart: new Date(i * 10_000).toISOString(),
  intervalSeconds: 10,
  requestRate: 0,
  concurrency: 0,
  queueDepth: 0,
  readyWorkers: 1,
  errors: 0,
  ttftP50Ms: null,
  ttftP95Ms: null,
  ...o,
});

describe('rollUp', () => {
  it('time-weights rates and request-weights TTFT', () => {
    const r = rollUp(
      [
        part(0, { requestRate: 1, ttftP50Ms: 100, ttftP95Ms: 300, concurrency: 2 }),
        part(1, { requestRate: 3, ttftP50Ms: 200, ttftP95Ms: 250, errors: 2 }),
      ],
      0,
      60,
    )!;
    expect(r.requestRate).toBe(2);
    expect(r.concurrency).toBe(1);
    expect(r.ttftP50Ms).toBe(175);
    expect(r.ttftP95Ms).toBe(300);
    expect(r.errors).toBe(2);
    expect(r.intervalSeconds).toBe(60);
  });

  it('is undefined for no parts and null TTFT without requests', () => {
    expect(rollUp([], 0, 60)).toBeUndefined();
    expect(rollUp([part(0, {})], 0, 60)!.ttftP50Ms).toBeNull();
  });
});
