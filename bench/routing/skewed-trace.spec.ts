import { DEFAULT_SKEWED, skewedTrace, SkewedSpec } from './skewed-trace';

const spec: SkewedSpec = { ...DEFAULT_SKEWED, requestsPerSecond: 20 };

describe('skewedTrace', () => {
  const trace = skewedTrace(spec);
  /** Requests per first block: a shared prefix's requests count together, a one-off prompt alone. */
  const byPrefix = new Map<number, number>();
  for (const r of trace) byPrefix.set(r.blocks[0], (byPrefix.get(r.blocks[0]) ?? 0) + 1);
  const shares = [...byPrefix.values()].sort((a, b) => b - a).map((n) => n / trace.length);

  it('is the same trace for the same seed and another for another seed', () => {
    expect(skewedTrace(spec)).toEqual(trace);
    expect(skewedTrace({ ...spec, seed: 2 })).not.toEqual(trace);
  });

  it('arrives at the given rate, in order', () => {
    expect(trace.length / spec.durationSeconds).toBeGreaterThan(spec.requestsPerSecond * 0.95);
    expect(trace.length / spec.durationSeconds).toBeLessThan(spec.requestsPerSecond * 1.05);
    expect(trace.every((r, i) => i === 0 || r.arrivalSeconds >= trace[i - 1].arrivalSeconds)).toBe(true);
  });

  it('has a few very hot prefixes: the hottest carries over 10 % of all requests, the top 10 over 30 %', () => {
    expect(shares[0]).toBeGreaterThan(0.1);
    expect(shares.slice(0, 10).reduce((a, b) => a + b, 0)).toBeGreaterThan(0.3);
  });

  it('has a long tail: over 30 % of prompts share no block (the one-offs, and prefixes drawn once), and most prefixes are seen only a few times', () => {
    const seen = new Map<number, number>();
    for (const r of trace) for (const b of r.blocks) seen.set(b, (seen.get(b) ?? 0) + 1);
    const alone = trace.filter((r) => r.blocks.every((b) => seen.get(b) === 1)).length / trace.length;
    expect(alone).toBeGreaterThan(0.3);
    expect(alone).toBeLessThan(0.45);
    const shared = [...byPrefix.values()].filter((n) => n > 1);
    expect(shared.length).toBeGreaterThan(300);
    expect(shared.filter((n) => n < 5).length / shared.length).toBeGreaterThan(0.5);
  });

  it('gives each prefix one length, and each request blocks of its own after it', () => {
    /** A block's group: its prefix, or the request it belongs to alone. */
    const group = (b: number) => Math.floor(b / 1000);
    const prefixLength = new Map<number, number>();
    const owned = new Set<number>();
    let wrongLength = 0;
    let lengthChanged = 0;
    let sharedOwn = 0;
    for (const r of trace) {
      if (r.blocks.length !== Math.floor(r.promptTokens / 512)) wrongLength += 1;
      const shared = r.blocks.filter((b) => group(b) === group(r.blocks[0]) && (byPrefix.get(r.blocks[0]) ?? 0) > 1).length;
      if (shared > 0) {
        if ((prefixLength.get(group(r.blocks[0])) ?? shared) !== shared) lengthChanged += 1;
        prefixLength.set(group(r.blocks[0]), shared);
      }
      for (const b of r.blocks.slice(shared)) {
        if (owned.has(b)) sharedOwn += 1;
        owned.add(b);
      }
    }
    expect({ wrongLength, lengthChanged, sharedOwn }).toEqual({ wrongLength: 0, lengthChanged: 0, sharedOwn: 0 });
  });
});
