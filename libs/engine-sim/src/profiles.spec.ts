import { decodeStepSeconds, EngineProfile, validateProfile } from './profile';
import { findProfile, PROFILES } from './profiles';
import { simulateClosedLoop, WORKLOADS } from './workloads';

describe('profiles reproduce the paper in virtual time', () => {
  const cases = PROFILES.flatMap((p) => p.measured.map((m) => ({ profile: p, m })));
  it.each(cases.map((c) => [c.profile.name, c.m.workload, c.m.concurrency, c]))(
    '%s %s at concurrency %d',
    (_name, _workload, _c, { profile, m }) => {
      const result = simulateClosedLoop(profile, WORKLOADS[m.workload], m.concurrency);
      // single-question cells are fitted (5 %); summary cells are a check of the model (20 %)
      const tolerance = m.workload === 'single-question' ? 0.05 : 0.2;
      expect(Math.abs(result.tokensPerSecond / m.tokensPerSecond - 1)).toBeLessThan(tolerance);
      if (m.latencySeconds !== undefined) expect(Math.abs(result.latencySeconds / m.latencySeconds - 1)).toBeLessThan(tolerance);
    },
  );

  it('covers the three quick-start profiles and serves Hugging Face ids', () => {
    expect(findProfile('a100-gpt-oss-20b').model).toBe('openai/gpt-oss-20b');
    expect(findProfile('a100-qwen2.5-3b').model).toBe('Qwen/Qwen2.5-3B-Instruct');
    expect(findProfile('cpu16-qwen2.5-3b').runtime).toBe('llama.cpp');
    expect(() => findProfile('h100-nope')).toThrow(/unknown profile "h100-nope"; known: a100-gpt-oss-20b/);
  });
});

describe('decodeStepSeconds', () => {
  const p = {
    ...findProfile('a100-qwen2.5-3b'),
    decodeStepMs: [
      [1, 10],
      [5, 20],
      [9, 24],
    ],
  } as EngineProfile;
  it.each([
    [0, 0.01],
    [1, 0.01],
    [3, 0.015],
    [5, 0.02],
    [7, 0.022],
    [13, 0.028], // beyond the last knot: its slope continues
  ])('batch %d takes %d s', (batch, seconds) => {
    expect(decodeStepSeconds(p, batch)).toBeCloseTo(seconds, 12);
  });
});

describe('validateProfile', () => {
  const base = findProfile('a100-qwen2.5-3b');
  it.each([
    [{ kvBlocks: 0 }, /kvBlocks must be a positive integer/],
    [
      {
        decodeStepMs: [
          [4, 10],
          [2, 12],
        ],
      },
      /must rise with batch size/,
    ],
    [{ maxBatchedTokens: 8, maxNumSeqs: 16 }, /maxBatchedTokens must be >= maxNumSeqs/],
    [{ naturalOutputTokens: [5, 2] }, /naturalOutputTokens/],
  ])('rejects %j', (patch, message) => {
    expect(() => validateProfile({ ...base, ...(patch as Partial<EngineProfile>) })).toThrow(message);
  });
});
