import { ScoredEndpoint } from '../plugin';
import { SeededRandom } from '../random';
import { endpoint, request } from '../testing/routing.factory';
import { powerOfTwoPicker } from './power-of-two.picker';

const scored = (scores: number[]): ScoredEndpoint[] => scores.map((score, i) => ({ endpoint: endpoint(`w${i}`), score }));

describe('powerOfTwoPicker', () => {
  const picks = (seed: number, scores: number[], n = 200) => {
    const picker = powerOfTwoPicker(new SeededRandom(seed));
    return Array.from({ length: n }, () => picker.pick(request(), scored(scores))?.id);
  };

  it.each([
    [[], undefined],
    [[0.3], 'w0'],
    [[0.1, 0.9], 'w1'],
  ])('with scores %j always picks %s', (scores, picked) => {
    expect(new Set(picks(1, scores, 20))).toEqual(new Set([picked]));
  });

  it('never picks the worst of three, and picks the best most often', () => {
    const counts = new Map<string, number>();
    for (const id of picks(5, [0.1, 0.5, 0.9])) counts.set(id!, (counts.get(id!) ?? 0) + 1);
    expect(counts.get('w0')).toBeUndefined();
    expect(counts.get('w2')).toBeGreaterThan(counts.get('w1')!);
  });

  it('repeats itself for the same seed and differs for another', () => {
    expect(picks(11, [0.5, 0.5, 0.5, 0.5])).toEqual(picks(11, [0.5, 0.5, 0.5, 0.5]));
    expect(picks(11, [0.5, 0.5, 0.5, 0.5])).not.toEqual(picks(12, [0.5, 0.5, 0.5, 0.5]));
  });
});
