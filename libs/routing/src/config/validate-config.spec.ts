import { routingPresets } from './presets';
import { RoutingConfigError, validateRoutingConfig } from './validate-config';

const ok = { filters: [{ name: 'model-match' }], scorers: [{ name: 'kv-cache', weight: 1 }], picker: { name: 'max-score' } };

const problemsOf = (input: unknown): readonly string[] => {
  try {
    validateRoutingConfig(input);
    return [];
  } catch (e) {
    if (!(e instanceof RoutingConfigError)) throw e;
    return e.problems;
  }
};

describe('validateRoutingConfig', () => {
  it.each(Object.entries(routingPresets))('accepts the %s preset', (_name, preset) => {
    expect(problemsOf(preset)).toEqual([]);
  });

  it('returns the input typed when it is valid, e.g. parsed from JSON', () => {
    expect(validateRoutingConfig(JSON.parse(JSON.stringify(ok)))).toEqual(ok);
  });

  it.each<[string, unknown, string[]]>([
    ['not an object', 3, ['config must be an object, got 3']],
    ['a misspelt top-level key', { ...ok, scorer: [] }, ['scorer is not a known key (expected filters, scorers, picker)']],
    ['filters missing', { scorers: [], picker: { name: 'round-robin' } }, ['filters must be an array, got undefined']],
    [
      'an unknown filter',
      { ...ok, filters: [{ name: 'model-match' }, { name: 'gpu-only' }] },
      ['filters[1].name must be one of model-match, capability, health, draining, got "gpu-only"'],
    ],
    ['a filter given as a bare string', { ...ok, filters: ['health'] }, ['filters[0] must be an object like { name: ... }, got "health"']],
    ['a filter listed twice', { ...ok, filters: [{ name: 'health' }, { name: 'health' }] }, ['filters[1].name "health" appears twice']],
    ['a negative weight', { ...ok, scorers: [{ name: 'kv-cache', weight: -1 }] }, ['scorers[0].weight must be a number ≥ 0, got -1']],
    [
      'a misspelt weight',
      { ...ok, scorers: [{ name: 'kv-cache', wieght: 1 }] },
      ['scorers[0].weight must be a number ≥ 0, got undefined', 'scorers[0].wieght is not a known key (expected name, weight)'],
    ],
    [
      'a bad scorer parameter',
      { ...ok, scorers: [{ name: 'prefix-affinity', weight: 1, yieldAtQueue: 0 }] },
      ['scorers[0].yieldAtQueue must be a positive number, got 0'],
    ],
    [
      'a fractional capacity',
      { ...ok, scorers: [{ name: 'prefix-affinity', weight: 1, capacityBlocks: 2.5 }] },
      ['scorers[0].capacityBlocks must be a positive integer, got 2.5'],
    ],
    [
      'a negative engine step',
      { ...ok, scorers: [{ name: 'predicted-ttft', weight: 1, stepSeconds: -0.1 }] },
      ['scorers[0].stepSeconds must be a number >= 0, got -0.1'],
    ],
    [
      'a parameter of another scorer',
      { ...ok, scorers: [{ name: 'kv-cache', weight: 1, threshold: 3 }] },
      ['scorers[0].threshold is not a known key (expected name, weight)'],
    ],
    ['picker missing', { filters: [], scorers: [] }, ['picker must be an object like { name: "max-score" }, got undefined']],
    [
      'an unknown picker',
      { ...ok, picker: { name: 'best' } },
      ['picker.name must be one of max-score, power-of-two, round-robin, got "best"'],
    ],
    [
      'a bad tie-break',
      { ...ok, picker: { name: 'max-score', tieBreak: 'lowest' } },
      ['picker.tieBreak must be one of id, random, got "lowest"'],
    ],
    ['a negative seed', { ...ok, picker: { name: 'power-of-two', seed: -1 } }, ['picker.seed must be an integer in [0, 2^32), got -1']],
    ['a seed for round-robin', { ...ok, picker: { name: 'round-robin', seed: 1 } }, ['picker.seed is not a known key (expected name)']],
  ])('names the key at fault: %s', (_case, input, problems) => {
    expect(problemsOf(input)).toEqual(problems);
  });

  it('reports every problem at once, in one message', () => {
    const input = {
      filters: [{ name: 'nope' }],
      scorers: [{ name: 'kv-cache', weight: 'high' }],
      picker: { name: 'max-score', seed: 1.5 },
    };
    expect(() => validateRoutingConfig(input)).toThrow(
      'invalid routing config: filters[0].name must be one of model-match, capability, health, draining, got "nope"; ' +
        'scorers[0].weight must be a number ≥ 0, got "high"; picker.seed must be an integer in [0, 2^32), got 1.5',
    );
  });
});
