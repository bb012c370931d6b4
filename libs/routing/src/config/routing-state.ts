import { newRoundRobinCursor, RoundRobinCursor } from '../pickers/round-robin.picker';
import { PrefixIndex } from '../prefix/prefix-index';
import { SeededRandom } from '../random';
import { RoutingConfig } from './routing-config';

export const DEFAULT_CAPACITY_BLOCKS = 4096;
export const DEFAULT_SEED = 0;

/** Everything routing remembers between requests, in one value the caller holds and can inspect. */
export interface RoutingState {
  /** Which endpoint was sent which prompt blocks. */
  readonly prefixIndex: PrefixIndex;
  readonly roundRobin: RoundRobinCursor;
  /** Drives random tie-breaks and power-of-two draws. */
  readonly random: SeededRandom;
}

export function newRoutingState(config: RoutingConfig): RoutingState {
  const prefix = config.scorers.find((s) => s.name === 'prefix-affinity' || s.name === 'predicted-ttft');
  const seed = config.picker.name === 'round-robin' ? undefined : config.picker.seed;
  return {
    prefixIndex: new PrefixIndex(prefix?.capacityBlocks ?? DEFAULT_CAPACITY_BLOCKS),
    roundRobin: newRoundRobinCursor(),
    random: new SeededRandom(seed ?? DEFAULT_SEED),
  };
}
