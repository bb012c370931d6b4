import { globMatches, MatchSteps, modelMatcher } from './model-access';

describe('model access globs', () => {
  it.each([
    ['qwen2.5-*', 'qwen2.5-3b', true],
    ['qwen2.5-*', 'qwen2x5-3b', false],
    ['*', '', true],
    ['', '', true],
    ['', 'a', false],
    ['?', 'a', true],
    ['?', '', false],
    ['llama-?b', 'llama-8b', true],
    ['llama-?b', 'llama-70b', false],
    ['*-instruct', 'qwen-7b-instruct', true],
    ['*-instruct', 'qwen-7b-instruct-v2', false],
    ['a*b*c', 'aXbYbZc', true],
    ['a*b*c', 'aXbYbZ', false],
    ['(a+)+', '(a+)+', true],
    ['[ab]', 'a', false],
    ['m.del', 'model', false],
  ])('%j matches %j: %s', (glob, name, expected) => {
    expect(globMatches(glob, name)).toBe(expected);
  });

  it('matches a pathological pattern in at most |glob| × |name| steps', () => {
    const glob = '*a*a*a*a*a*a*b';
    const name = 'a'.repeat(60);
    const count: MatchSteps = { steps: 0 };
    expect(globMatches(glob, name, count)).toBe(false);
    // A backtracking regex tries on the order of C(60, 6) ≈ 5·10⁷ placements here.
    expect(count.steps).toBeLessThanOrEqual(glob.length * name.length);
    expect(count.steps).toBeGreaterThan(0);
  });

  it('allows every model with no globs, otherwise any glob that matches', () => {
    expect(modelMatcher([])('anything')).toBe(true);
    const allows = modelMatcher(['qwen*', 'llama-?b']);
    expect(['qwen2.5-3b', 'llama-8b', 'mistral'].map(allows)).toEqual([true, true, false]);
  });
});
