import { performance } from 'node:perf_hooks';
import { loadConfig } from '@maas/config';
import {
  batchLaneFilter,
  buildRoutingPolicy,
  Endpoint,
  interactiveLaneFilter,
  promptBlocks,
  RoutingPipeline,
  routingPresets,
} from '@maas/routing';
import { seededRng } from '@maas/scaling';
import { gatewayConfigSpec } from '../../services/gateway/src/gateway.config';
import { percentile } from '../lib/stats';

export interface PickTiming {
  readonly endpoints: number;
  readonly picks: number;
  readonly preset: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * The gateway's pick, timed in this process: the pipeline it builds (its default preset with the
 * batch- and interactive-lane filters ahead, as RoutingService does, from the gateway's own config
 * defaults) over `n` ready endpoints of one model, with heartbeat-like loads and the request's
 * prompt blocks, as RoutingService.route passes them. The gateway exposes no pick histogram of its own.
 */
export function timePicks(n: number, picks: number, model: string, seed: number): PickTiming {
  const config = loadConfig(gatewayConfigSpec, {});
  const policy = buildRoutingPolicy(routingPresets[config.GATEWAY_ROUTING]);
  const parts = policy.pipeline.parts;
  const lanes = {
    minInteractive: config.GATEWAY_INTERACTIVE_LANE,
    reserve: config.GATEWAY_BATCH_RESERVE,
    concurrency: config.GATEWAY_BATCH_CONCURRENCY,
  };
  const pipeline = new RoutingPipeline({ ...parts, filters: [batchLaneFilter(lanes), interactiveLaneFilter, ...parts.filters] });
  const usesPrefix = policy.config.scorers.some((s) => s.name === 'prefix-affinity' && s.weight > 0);
  const rng = seededRng(seed);
  const endpoints: Endpoint[] = Array.from({ length: n }, (_, i) => ({
    id: `fleet-${i}`,
    url: `http://127.0.0.1:1/w/fleet-${i}`,
    models: [model],
    capabilities: ['chat', 'completion'],
    state: 'ready',
    hardware: 'gpu',
    vmId: `vm-${Math.floor(i / 10)}`,
    capacity: 8,
    running: Math.floor(rng() * 8),
    waiting: Math.floor(rng() * 2),
    kvCacheUsage: rng(),
    outstanding: Math.floor(rng() * 3),
  }));
  const messages = [{ role: 'user', content: 'How many VMs does the fleet need at its peak?' }];
  const times: number[] = [];
  for (let k = 0; k < picks + 1000; k++) {
    const began = performance.now();
    pipeline.route(
      {
        model,
        capability: 'chat',
        arrivedAt: k,
        prefixBlocks: usesPrefix ? promptBlocks(messages, { model }) : [],
        sessionKey: `s${k % 50}`,
        kind: 'interactive',
      },
      endpoints,
    );
    // the first thousand warm the JIT up
    if (k >= 1000) times.push(performance.now() - began);
  }
  times.sort((a, b) => a - b);
  return { endpoints: n, picks, preset: config.GATEWAY_ROUTING, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99) };
}
