import { Endpoint, EndpointState } from '../endpoint';

/** "1 worker", "3 workers". */
export function workers(n: number): string {
  return n === 1 ? '1 worker' : `${n} workers`;
}

/** "2 starting, 1 unhealthy", states in alphabetical order so reasons compare across runs. */
export function countStates(endpoints: readonly Endpoint[]): string {
  const counts = new Map<EndpointState, number>();
  for (const e of endpoints) counts.set(e.state, (counts.get(e.state) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([state, n]) => `${n} ${state}`)
    .join(', ');
}
