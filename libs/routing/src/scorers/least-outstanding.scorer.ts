import { Scorer, scoreEach } from '../plugin';

/**
 * Fewer of our own unfinished requests relative to capacity is better: 1 when idle, 0.5 at
 * capacity, still ordered beyond it so a saturated pool keeps spreading.
 */
export const leastOutstandingScorer = {
  name: 'least-outstanding',
  reads: ['outstanding', 'capacity'],
  score: (_req, endpoints) =>
    scoreEach(endpoints, (e) => {
      const capacity = Math.max(1, e.capacity);
      return capacity / (capacity + Math.max(0, e.outstanding));
    }),
} satisfies Scorer;
