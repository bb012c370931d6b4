import { AudioChunk, frameLevels, pauseThreshold, planChunks } from './chunk-plan';

const spec = { chunkSeconds: 30, overlapSeconds: 2, searchSeconds: 8, minPauseSeconds: 0.25, tailSeconds: 8, leadInSeconds: 0 };

/** Frame levels at 10 ms: speech at -20 dB with the given pauses (seconds) at -100 dB. */
function levels(seconds: number, pauses: [number, number][] = []): Float32Array {
  const out = new Float32Array(Math.round(seconds * 100)).fill(-20);
  for (const [from, to] of pauses) out.fill(-100, Math.round(from * 100), Math.round(to * 100));
  return out;
}

/** Every instant belongs to exactly one chunk's keep window, and chunks cover their keep windows. */
function expectTiling(chunks: AudioChunk[], total: number) {
  expect(chunks[0].keepFrom).toBe(0);
  expect(chunks[chunks.length - 1].keepTo).toBe(total);
  chunks.forEach((c, i) => {
    expect(c.start).toBeLessThanOrEqual(c.keepFrom);
    expect(c.end).toBeGreaterThanOrEqual(c.keepTo);
    if (i > 0) expect(c.keepFrom).toBe(chunks[i - 1].keepTo);
  });
}

describe('planChunks', () => {
  it('keeps short audio whole', () => {
    expect(planChunks(levels(35), spec)).toEqual([{ index: 0, start: 0, end: 35, keepFrom: 0, keepTo: 35, cut: 'end' }]);
  });

  it('cuts in the middle of the latest pause before the target end, without overlap', () => {
    const chunks = planChunks(
      levels(70, [
        [24, 24.5],
        [27, 27.6],
        [55, 56],
      ]),
      spec,
    );
    expect(chunks.map((c) => [c.start, c.end, c.cut])).toEqual([
      [0, 27.3, 'pause'],
      [27.3, 55.5, 'pause'],
      [55.5, 70, 'end'],
    ]);
    expectTiling(chunks, 70);
  });

  it('overlaps neighbours around the quietest moment when nobody pauses', () => {
    const l = levels(65);
    l.fill(-30, 2500, 2520); // a quieter 200 ms at 25 s
    const chunks = planChunks(l, spec);
    expect(chunks[0]).toEqual({ index: 0, start: 0, end: 26.05, keepFrom: 0, keepTo: 25.05, cut: 'overlap' });
    expect(chunks[1].start).toBe(24.05);
    expectTiling(chunks, 65);
  });

  it('tiles a long recording into chunks no longer than chunk + tail', () => {
    const pauses: [number, number][] = [];
    for (let t = 7; t < 600; t += 7.3) pauses.push([t, t + 0.6]);
    const chunks = planChunks(levels(600, pauses), spec);
    expectTiling(chunks, 600);
    expect(chunks.length).toBeGreaterThanOrEqual(20);
    for (const c of chunks) expect(c.end - c.start).toBeLessThanOrEqual(spec.chunkSeconds + spec.tailSeconds + 0.01);
    expect(chunks.slice(0, -1).every((c) => c.cut === 'pause')).toBe(true);
  });

  it('gives each chunk a lead-in before its keep window', () => {
    const chunks = planChunks(
      levels(70, [
        [27, 27.6],
        [55, 56],
      ]),
      { ...spec, leadInSeconds: 5 },
    );
    expect(chunks.map((c) => [c.start, c.keepFrom, c.keepTo, c.end])).toEqual([
      [0, 0, 27.3, 27.3],
      [22.3, 27.3, 55.5, 55.5],
      [50.5, 55.5, 70, 70],
    ]);
    expectTiling(chunks, 70);
  });
});

describe('frameLevels and pauseThreshold', () => {
  it('measures loudness per 10 ms frame', () => {
    const samples = new Int16Array(16000 * 0.03);
    samples.fill(16384, 160, 320); // half scale: -6 dB
    const l = frameLevels(samples, 16000);
    expect(Array.from(l).map((v) => Math.round(v))).toEqual([-100, -6, -100]);
  });

  it('puts the threshold above the noise floor but below speech', () => {
    const l = new Float32Array(1000).fill(-25);
    l.fill(-60, 0, 300);
    expect(pauseThreshold(l)).toBe(-48);
    expect(pauseThreshold(new Float32Array(10).fill(-100))).toBe(-88);
  });
});
