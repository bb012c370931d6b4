import { burstyTrace, BurstySpec, DEFAULT_BURSTY } from './bursty-trace';
import { TraceRequest } from './trace';

/** Half an hour at 12 requests a second: enough bursts (~45) for the measures below to settle. */
const spec: BurstySpec = { ...DEFAULT_BURSTY, durationSeconds: 1800, requestsPerSecond: 12 };

/** Arrivals per `window`-second window, from 0 to the spec's duration. */
function counts(trace: readonly TraceRequest[], window: number, duration: number): number[] {
  const out = new Array<number>(Math.ceil(duration / window)).fill(0);
  for (const r of trace) out[Math.floor(r.arrivalSeconds / window)] += 1;
  return out;
}

/** Variance over mean of the per-second arrival counts: 1 for a Poisson process, far above for bursts. */
function dispersion(trace: readonly TraceRequest[], duration: number): number {
  const c = counts(trace, 1, duration);
  const mean = c.reduce((a, b) => a + b, 0) / c.length;
  return c.reduce((sum, x) => sum + (x - mean) ** 2, 0) / c.length / mean;
}

describe('burstyTrace', () => {
  const trace = burstyTrace(spec);

  it('is the same trace for the same seed and another for another seed', () => {
    expect(burstyTrace(spec)).toEqual(trace);
    expect(burstyTrace({ ...spec, seed: 2 })).not.toEqual(trace);
  });

  it('bursts at the same times whatever the rate, so cells scaled to their workers see the same bursts', () => {
    const a = counts(trace, 5, spec.durationSeconds);
    const b = counts(burstyTrace({ ...spec, requestsPerSecond: 48 }), 5, spec.durationSeconds);
    const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
    const [ma, mb] = [mean(a), mean(b)];
    const cov = mean(a.map((v, i) => (v - ma) * (b[i] - mb)));
    const sd = (x: number[], m: number) => Math.sqrt(mean(x.map((v) => (v - m) ** 2)));
    // correlation of the 5-second counts: only Poisson noise within each state differs
    expect(cov / (sd(a, ma) * sd(b, mb))).toBeGreaterThan(0.9);
  });

  it('arrives at the mean rate over the whole trace, in order', () => {
    expect(trace.length / spec.durationSeconds).toBeGreaterThan(spec.requestsPerSecond * 0.9);
    expect(trace.length / spec.durationSeconds).toBeLessThan(spec.requestsPerSecond * 1.1);
    expect(trace.every((r, i) => i === 0 || r.arrivalSeconds >= trace[i - 1].arrivalSeconds)).toBe(true);
  });

  it('comes in bursts: the busiest 5 s hold 3× the mean, and per-second counts vary far beyond a Poisson process', () => {
    const fives = counts(trace, 5, spec.durationSeconds);
    const mean = trace.length / fives.length;
    expect(Math.max(...fives) / mean).toBeGreaterThan(3);
    expect(dispersion(trace, spec.durationSeconds)).toBeGreaterThan(5);
    // the same generator without bursts is Poisson
    expect(dispersion(burstyTrace({ ...spec, burstFactor: 1 }), spec.durationSeconds)).toBeLessThan(1.3);
  });

  it('puts most of a burst on the application that fired it', () => {
    const fives = counts(trace, 5, spec.durationSeconds);
    const busiest = fives.indexOf(Math.max(...fives));
    const inIt = trace.filter((r) => Math.floor(r.arrivalSeconds / 5) === busiest);
    const byApplication = new Map<number, number>();
    for (const r of inIt) byApplication.set(r.blocks[0], (byApplication.get(r.blocks[0]) ?? 0) + 1);
    expect(Math.max(...byApplication.values()) / inIt.length).toBeGreaterThan(0.4);
  });

  it('starts every prompt with its application system prompt and follows it with blocks of its own', () => {
    const systemBlocks = spec.systemPromptTokens / 512;
    const owners = new Set<number>();
    let wrongLength = 0;
    let sharedOwn = 0;
    for (const r of trace) {
      if (r.blocks.length !== Math.floor(r.promptTokens / 512)) wrongLength += 1;
      for (const b of r.blocks.slice(systemBlocks)) {
        if (owners.has(b)) sharedOwn += 1;
        owners.add(b);
      }
    }
    expect({ wrongLength, sharedOwn }).toEqual({ wrongLength: 0, sharedOwn: 0 });
    expect(new Set(trace.map((r) => r.blocks[0])).size).toBe(spec.applications);
  });
});
