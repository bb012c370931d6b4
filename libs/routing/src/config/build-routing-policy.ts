import { Clock, RoutingPipeline } from '../pipeline/routing-pipeline';
import { CatalogEntry, filterCatalog, pickerCatalog, scorerCatalog } from './plugin-catalog';
import { RoutingConfig } from './routing-config';
import { newRoutingState, RoutingState } from './routing-state';
import { validateRoutingConfig } from './validate-config';

export interface BuildOptions {
  /** Times each plugin (e.g. `performance.now`); latencies read 0 without it. */
  readonly clock?: Clock;
  /** Carry state over from an earlier pipeline, e.g. after a config reload; fresh from the config otherwise. */
  readonly state?: RoutingState;
}

export interface RoutingPolicy {
  readonly config: RoutingConfig;
  readonly pipeline: RoutingPipeline;
  readonly state: RoutingState;
}

/** The one place a configuration becomes plugins; throws `RoutingConfigError` naming each bad key. */
export function buildRoutingPolicy(config: RoutingConfig, options: BuildOptions = {}): RoutingPolicy {
  validateRoutingConfig(config);
  const state = options.state ?? newRoutingState(config);
  const build = <C extends { name: string }, P>(catalog: Readonly<Record<string, CatalogEntry<never, P>>>, c: C): P =>
    // Each catalog entry takes its own case of the config union; TypeScript cannot correlate the two here.
    (catalog[c.name] as unknown as CatalogEntry<C, P>).build(c, state);
  const pipeline = new RoutingPipeline(
    {
      filters: config.filters.map((c) => build(filterCatalog, c)),
      scorers: config.scorers.map((c) => ({ scorer: build(scorerCatalog, c), weight: c.weight })),
      picker: build(pickerCatalog, config.picker),
    },
    options.clock,
  );
  return { config, pipeline, state };
}
