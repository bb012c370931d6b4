import { RoutingConfig } from './routing-config';

const serving = [{ name: 'model-match' }, { name: 'capability' }, { name: 'health' }, { name: 'draining' }] as const;

/** Named policies; `predicted-ttft` is the default, round-robin and least-outstanding are baselines to measure against. */
export const routingPresets = {
  'round-robin': { filters: serving, scorers: [], picker: { name: 'round-robin' } },
  'least-outstanding': {
    filters: serving,
    scorers: [{ name: 'least-outstanding', weight: 1 }],
    picker: { name: 'max-score', tieBreak: 'random', seed: 0 },
  },
  // Affinity outweighs load until the holder's queue is ~12 longer than the shortest (see the spec's cases):
  // on the Mooncake trace an earlier yield spread hot prefixes exactly when recomputing them cost most, and
  // a heartbeat-old KV-usage signal herded every request of a 1–2 s window onto one worker (bench:routing).
  'prefix-load': {
    filters: serving,
    scorers: [
      { name: 'prefix-affinity', weight: 3, yieldAtQueue: 16, capacityBlocks: 4096 },
      { name: 'least-outstanding', weight: 2 },
      { name: 'queue-depth', weight: 1, threshold: 8 },
    ],
    picker: { name: 'max-score', tieBreak: 'random', seed: 0 },
  },
  // Each worker's predicted time to first token, prefix hits counted as prefill saved, and no request sent to a
  // worker with a queue while another idles (predicted-ttft.scorer.ts). The default: on the Mooncake, conversation,
  // bursty and skewed traces at 4, 8 and 16 workers (bench:routing --sweep) it made no such pick; its TTFT p99 was the
  // lowest in 10 of 12 cells, up to 7 % above round-robin's on the bursty trace (where the policies differ by noise,
  // the system prompts being cached everywhere); hits >= 94 % of the oracle's but on Mooncake at 4 workers (89 %).
  'predicted-ttft': {
    filters: serving,
    scorers: [{ name: 'predicted-ttft', weight: 1, capacityBlocks: 4096 }],
    picker: { name: 'max-score', tieBreak: 'random', seed: 0 },
  },
} as const satisfies Record<string, RoutingConfig>;

export type RoutingPresetName = keyof typeof routingPresets;

export const DEFAULT_ROUTING_PRESET: RoutingPresetName = 'predicted-ttft';

export function isRoutingPresetName(name: string): name is RoutingPresetName {
  return Object.hasOwn(routingPresets, name);
}
