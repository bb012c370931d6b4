import { Endpoint } from '../endpoint';
import { Picker, ScoredEndpoint } from '../plugin';
import { SeededRandom } from '../random';

/** Scores closer than this are a tie: float sums of weights should not decide placement. */
const TIE = 1e-9;

export type TieBreak = 'id' | 'random';

/** Highest total wins; ties go to the smallest id, or to a seeded draw so idle pools spread. */
export function maxScorePicker(tieBreak: TieBreak, random: SeededRandom) {
  /** Two passes, nothing allocated: the top score, then the tied ones in order (the k-th drawn, or the smallest id). */
  const pickIndex = (_req: unknown, endpoints: readonly Endpoint[], totals: Float64Array): number => {
    const n = endpoints.length;
    let top = -Infinity;
    for (let i = 0; i < n; i++) {
      const s = totals[i];
      if (s !== s) return -1; // NaN: nothing is at least the top
      if (s > top) top = s;
    }
    const floor = top - TIE;
    let tied = 0;
    let first = -1;
    for (let i = 0; i < n; i++) {
      if (totals[i] >= floor) {
        if (tied === 0) first = i;
        tied++;
      }
    }
    if (tied <= 1) return first;
    if (tieBreak === 'random') {
      let k = random.below(tied);
      for (let i = first; i < n; i++) if (totals[i] >= floor && k-- === 0) return i;
      return -1;
    }
    let chosen = first;
    for (let i = first + 1; i < n; i++) if (totals[i] >= floor && endpoints[i].id < endpoints[chosen].id) chosen = i;
    return chosen;
  };
  return {
    name: 'max-score',
    reads: [],
    pick: (req, scored) => {
      const totals = Float64Array.from(scored, (s) => s.score);
      const i = pickIndex(req, endpointsOf(scored), totals);
      return i < 0 ? undefined : scored[i].endpoint;
    },
    pickIndex,
  } satisfies Picker;
}

export function endpointsOf(scored: readonly ScoredEndpoint[]): Endpoint[] {
  return scored.map((s) => s.endpoint);
}
