import { parseDuration } from './sim-engine';

describe('parseDuration', () => {
  it.each([
    ['2s', 2],
    ['500ms', 0.5],
    ['1.5m', 90],
    ['1h', 3600],
    ['30', 30],
  ])('%s is %d s', (text, seconds) => {
    expect(parseDuration(text, 'startup-delay')).toBeCloseTo(seconds, 12);
  });

  it('names the flag when the text is not a duration', () => {
    expect(() => parseDuration('soon', 'spike-every')).toThrow('--spike-every: expected a duration like 2s, 500ms or 1m, got "soon"');
  });
});
