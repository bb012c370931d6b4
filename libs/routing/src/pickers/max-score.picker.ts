import { Picker, ScoredEndpoint } from '../plugin';
import { SeededRandom } from '../random';

/** Scores closer than this are a tie: float sums of weights should not decide placement. */
const TIE = 1e-9;

export type TieBreak = 'id' | 'random';

/** Highest total wins; ties go to the smallest id, or to a seeded draw so idle pools spread. */
export function maxScorePicker(tieBreak: TieBreak, random: SeededRandom) {
  return {
    name: 'max-score',
    reads: [],
    pick: (_req, scored) => {
      const best = bestOf(scored);
      if (best.length === 0) return undefined;
      const chosen =
        tieBreak === 'random' && best.length > 1
          ? best[random.below(best.length)]
          : best.reduce((a, b) => (b.endpoint.id < a.endpoint.id ? b : a));
      return chosen.endpoint;
    },
  } satisfies Picker;
}

function bestOf(scored: readonly ScoredEndpoint[]): ScoredEndpoint[] {
  const top = Math.max(...scored.map((s) => s.score));
  return scored.filter((s) => s.score >= top - TIE);
}
