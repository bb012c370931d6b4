import { Endpoint } from '../endpoint';
import { Picker } from '../plugin';
import { SeededRandom } from '../random';
import { endpointsOf } from './max-score.picker';

/** Two candidates drawn at random, the better kept: near-best balance without herding on stale data. */
export function powerOfTwoPicker(random: SeededRandom) {
  const pickIndex = (_req: unknown, endpoints: readonly Endpoint[], totals: Float64Array): number => {
    const n = endpoints.length;
    if (n <= 1) return n - 1;
    const i = random.below(n);
    const j = (i + 1 + random.below(n - 1)) % n;
    return totals[j] > totals[i] ? j : i;
  };
  return {
    name: 'power-of-two',
    reads: [],
    pick: (req, scored) => {
      const i = pickIndex(
        req,
        endpointsOf(scored),
        Float64Array.from(scored, (s) => s.score),
      );
      return i < 0 ? undefined : scored[i].endpoint;
    },
    pickIndex,
  } satisfies Picker;
}
