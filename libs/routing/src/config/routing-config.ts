import { TieBreak } from '../pickers/max-score.picker';

export type FilterConfig =
  { readonly name: 'model-match' } | { readonly name: 'capability' } | { readonly name: 'health' } | { readonly name: 'draining' };

export type ScorerConfig =
  | { readonly name: 'least-outstanding'; readonly weight: number }
  | { readonly name: 'queue-depth'; readonly weight: number; readonly threshold?: number }
  | { readonly name: 'kv-cache'; readonly weight: number }
  | {
      readonly name: 'prefix-affinity';
      readonly weight: number;
      /** Waiting requests at which a cached prefix stops counting. */
      readonly yieldAtQueue?: number;
      /** Blocks remembered per endpoint: its KV cache size in the unit of the request's blocks. */
      readonly capacityBlocks?: number;
    }
  | {
      readonly name: 'predicted-ttft';
      readonly weight: number;
      /** Blocks remembered per endpoint, as for prefix-affinity. */
      readonly capacityBlocks?: number;
      /** Prompt tokens per request block. */
      readonly blockTokens?: number;
      readonly prefillTokensPerSecond?: number;
      /** How much longer prefill takes beside a full decode batch (0.5: 1.5×). */
      readonly decodeSlowdown?: number;
      /** Longest engine step: a request sent to a busy worker may wait this long for the step in flight before it starts. */
      readonly stepSeconds?: number;
    };

export type PickerConfig =
  | { readonly name: 'max-score'; readonly tieBreak?: TieBreak; readonly seed?: number }
  | { readonly name: 'power-of-two'; readonly seed?: number }
  | { readonly name: 'round-robin' };

/** Which plugins run, in which order, with which weights: the whole routing policy as data. */
export interface RoutingConfig {
  readonly filters: readonly FilterConfig[];
  readonly scorers: readonly ScorerConfig[];
  readonly picker: PickerConfig;
}

export type FilterName = FilterConfig['name'];
export type ScorerName = ScorerConfig['name'];
export type PickerName = PickerConfig['name'];
