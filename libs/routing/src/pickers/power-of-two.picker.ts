import { Picker } from '../plugin';
import { SeededRandom } from '../random';

/** Two candidates drawn at random, the better kept: near-best balance without herding on stale data. */
export function powerOfTwoPicker(random: SeededRandom) {
  return {
    name: 'power-of-two',
    reads: [],
    pick: (_req, scored) => {
      if (scored.length <= 1) return scored[0]?.endpoint;
      const i = random.below(scored.length);
      const j = (i + 1 + random.below(scored.length - 1)) % scored.length;
      return (scored[j].score > scored[i].score ? scored[j] : scored[i]).endpoint;
    },
  } satisfies Picker;
}
