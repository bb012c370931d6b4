import { Counter, Histogram, register } from 'prom-client';
import { SeriesCounter, SeriesHistogram } from './series-metrics';

/** The exposition of one metric with its name replaced, so two families can be compared line for line. */
const exposition = async (name: string) => (await register.getSingleMetricAsString(name)).split(name).join('NAME');

describe('series metrics', () => {
  it('a histogram renders exactly as prom-client’s own for the same observations', async () => {
    const buckets = [0.1, 0.5, 1, 2.5];
    const ours = new SeriesHistogram('test_series_seconds', 'help', ['model', 'kind'], [2.5, 0.1, 1, 0.5]);
    const reference = new Histogram({ name: 'test_reference_seconds', help: 'help', labelNames: ['model', 'kind'], buckets });
    const observations: [string, string, number][] = [
      ['a', 'interactive', 0.05],
      ['a', 'interactive', 0.1],
      ['a', 'interactive', 0.7],
      ['b', 'batch', 3],
      ['a', 'interactive', 99],
      ['b', 'batch', 0],
      ['a\\"x\n', 'batch', 1],
    ];
    for (const [model, kind, v] of observations) {
      ours.labels(model, kind).observe(v);
      reference.observe({ model, kind }, v);
    }
    expect(await exposition('test_series_seconds')).toBe(await exposition('test_reference_seconds'));
    const child = ours.labels('a', 'interactive');
    expect(ours.labels('a', 'interactive')).toBe(child); // one child per label set
    expect([child.count, child.sum]).toEqual([4, 0.05 + 0.1 + 0.7 + 99]);
  });

  it('a counter renders exactly as prom-client’s own', async () => {
    const ours = new SeriesCounter('test_series_total', 'help', ['model', 'status']);
    const reference = new Counter({ name: 'test_reference_total', help: 'help', labelNames: ['model', 'status'] });
    for (const [model, status, n] of [
      ['a', '200', 1],
      ['a', '200', 2.5],
      ['b', '429', 1],
    ] as const) {
      ours.labels(model, status).inc(n);
      reference.inc({ model, status }, n);
    }
    expect(await exposition('test_series_total')).toBe(await exposition('test_reference_total'));
  });

  it('refuses a label set of the wrong size, and ignores values that are not numbers', () => {
    const h = new SeriesHistogram('test_series_checks', 'help', ['model'], [1]);
    expect(() => h.labels('a', 'b')).toThrow(/takes 1 label values, got 2/);
    h.labels('a').observe(NaN);
    h.labels('a').observe(Infinity);
    expect(h.labels('a').count).toBe(0);
  });
});
