import { capabilityFilter } from '../filters/capability.filter';
import { drainingFilter } from '../filters/draining.filter';
import { healthFilter } from '../filters/health.filter';
import { modelMatchFilter } from '../filters/model-match.filter';
import { maxScorePicker } from '../pickers/max-score.picker';
import { powerOfTwoPicker } from '../pickers/power-of-two.picker';
import { roundRobinPicker } from '../pickers/round-robin.picker';
import { Filter, Picker, Scorer } from '../plugin';
import { kvCacheScorer } from '../scorers/kv-cache.scorer';
import { leastOutstandingScorer } from '../scorers/least-outstanding.scorer';
import { DEFAULT_QUEUE_THRESHOLD, queueDepthScorer } from '../scorers/queue-depth.scorer';
import { prefixAffinityScorer } from '../scorers/prefix-affinity.scorer';
import {
  DEFAULT_BLOCK_TOKENS,
  DEFAULT_DECODE_SLOWDOWN,
  DEFAULT_PREFILL_TOKENS_PER_SECOND,
  DEFAULT_STEP_SECONDS,
  PrefillBacklog,
  predictedTtftScorer,
} from '../scorers/predicted-ttft.scorer';
import { FilterConfig, FilterName, PickerConfig, PickerName, ScorerConfig, ScorerName } from './routing-config';
import { RoutingState } from './routing-state';

/** Checks one optional parameter; returns what is wrong with it, or undefined. */
export type ParamCheck = (value: unknown) => string | undefined;

export interface CatalogEntry<C, P> {
  /** Optional parameters besides `name` (and `weight` for scorers). */
  readonly params: Readonly<Record<string, ParamCheck>>;
  readonly build: (config: C, state: RoutingState) => P;
}

export const DEFAULT_YIELD_AT_QUEUE = 4;

const positiveNumber: ParamCheck = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? undefined : `must be a positive number, got ${show(v)}`;
const nonNegativeNumber: ParamCheck = (v) => (typeof v === 'number' && v >= 0 ? undefined : `must be a number >= 0, got ${show(v)}`);
const positiveInteger: ParamCheck = (v) =>
  Number.isInteger(v) && (v as number) > 0 ? undefined : `must be a positive integer, got ${show(v)}`;
const seed: ParamCheck = (v) =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32 ? undefined : `must be an integer in [0, 2^32), got ${show(v)}`;
const oneOf =
  (...allowed: string[]): ParamCheck =>
  (v) =>
    typeof v === 'string' && allowed.includes(v) ? undefined : `must be one of ${allowed.join(', ')}, got ${show(v)}`;

export function show(v: unknown): string {
  return typeof v === 'string' ? `"${v}"` : (JSON.stringify(v) ?? String(v));
}

/** Every plugin a configuration may name. Adding one is an entry here and a case in routing-config.ts. */
export const filterCatalog: { readonly [N in FilterName]: CatalogEntry<Extract<FilterConfig, { name: N }>, Filter> } = {
  'model-match': { params: {}, build: () => modelMatchFilter },
  capability: { params: {}, build: () => capabilityFilter },
  health: { params: {}, build: () => healthFilter },
  draining: { params: {}, build: () => drainingFilter },
};

export const scorerCatalog: { readonly [N in ScorerName]: CatalogEntry<Extract<ScorerConfig, { name: N }>, Scorer> } = {
  'least-outstanding': { params: {}, build: () => leastOutstandingScorer },
  'queue-depth': {
    params: { threshold: positiveNumber },
    build: (c) => queueDepthScorer(c.threshold ?? DEFAULT_QUEUE_THRESHOLD),
  },
  'kv-cache': { params: {}, build: () => kvCacheScorer },
  'prefix-affinity': {
    params: { yieldAtQueue: positiveNumber, capacityBlocks: positiveInteger },
    build: (c, state) => prefixAffinityScorer({ index: state.prefixIndex, yieldAtQueue: c.yieldAtQueue ?? DEFAULT_YIELD_AT_QUEUE }),
  },
  'predicted-ttft': {
    params: {
      capacityBlocks: positiveInteger,
      blockTokens: positiveNumber,
      prefillTokensPerSecond: positiveNumber,
      decodeSlowdown: nonNegativeNumber,
      stepSeconds: nonNegativeNumber,
    },
    build: (c, state) =>
      predictedTtftScorer({
        index: state.prefixIndex,
        backlog: new PrefillBacklog(),
        blockTokens: c.blockTokens ?? DEFAULT_BLOCK_TOKENS,
        prefillTokensPerSecond: c.prefillTokensPerSecond ?? DEFAULT_PREFILL_TOKENS_PER_SECOND,
        decodeSlowdown: c.decodeSlowdown ?? DEFAULT_DECODE_SLOWDOWN,
        stepSeconds: c.stepSeconds ?? DEFAULT_STEP_SECONDS,
      }),
  },
};

export const pickerCatalog: { readonly [N in PickerName]: CatalogEntry<Extract<PickerConfig, { name: N }>, Picker> } = {
  'max-score': {
    params: { tieBreak: oneOf('id', 'random'), seed },
    build: (c, state) => maxScorePicker(c.tieBreak ?? 'random', state.random),
  },
  'power-of-two': { params: { seed }, build: (_c, state) => powerOfTwoPicker(state.random) },
  'round-robin': { params: {}, build: (_c, state) => roundRobinPicker(state.roundRobin) },
};
