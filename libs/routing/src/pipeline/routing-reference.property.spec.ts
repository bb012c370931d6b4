import fc from 'fast-check';
import { buildRoutingPolicy } from '../config/build-routing-policy';
import { routingPresets } from '../config/presets';
import { RoutingConfig } from '../config/routing-config';
import { Capability, Endpoint, EndpointState, RoutingRequest } from '../endpoint';
import { BatchLaneSpec, batchLaneFilter, batchPoolFilter, interactiveLaneFilter } from '../filters/batch-lanes.filter';
import { referenceRouter } from '../testing/reference-routing';
import { endpoint } from '../testing/routing.factory';
import { RoutingPipeline } from './routing-pipeline';

/**
 * The pipeline's O(candidates) plugins (filters that return their input when they remove nothing,
 * scorers by position, one-pass prefix hits, pickers by position) pick what the plain per-endpoint
 * implementation picks, request after request on a fleet that moves between them, with every state
 * the two keep (prefix index, prefill backlog, seeded draws, round-robin cursor) evolving alike.
 */
const states: EndpointState[] = ['ready', 'ready', 'ready', 'draining', 'starting', 'unhealthy'];

const arbWorker = fc.record({
  state: fc.constantFrom(...states),
  other: fc.boolean(),
  embedding: fc.boolean(),
  capacity: fc.integer({ min: 0, max: 8 }),
  running: fc.integer({ min: 0, max: 10 }),
  waiting: fc.integer({ min: 0, max: 4 }),
  kv: fc.double({ min: 0, max: 1.2, noNaN: true }),
  outstanding: fc.integer({ min: 0, max: 10 }),
  batch: fc.integer({ min: 0, max: 3 }),
  failed: fc.boolean(),
  pool: fc.boolean(),
  atHeartbeat: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
});
type Worker = typeof arbWorker extends fc.Arbitrary<infer W> ? W : never;

const toEndpoint = (w: Worker, i: number): Endpoint =>
  endpoint(`w${(i * 7) % 13}-${i}`, {
    state: w.state,
    models: w.other ? ['other'] : ['m'],
    capabilities: w.embedding ? ['embedding'] : ['chat', 'completion'],
    capacity: w.capacity,
    running: w.running,
    waiting: w.waiting,
    kvCacheUsage: w.kv,
    outstanding: w.outstanding,
    ...(w.batch > 0 && w.outstanding > 0 ? { batchOutstanding: Math.min(w.batch, w.outstanding) } : {}),
    failedUntil: w.failed ? 5_000 : undefined,
    ...(w.atHeartbeat === undefined ? {} : { outstandingAtHeartbeat: w.atHeartbeat }),
  });

/** A step: the request, then how the fleet moves before the next one. */
const arbStep = fc.record({
  chain: fc.integer({ min: 0, max: 5 }),
  length: fc.integer({ min: 0, max: 8 }),
  capability: fc.constantFrom<Capability>('chat', 'chat', 'embedding'),
  batch: fc.boolean(),
  dt: fc.integer({ min: 0, max: 400 }),
  moved: fc.nat(),
  to: arbWorker,
});

const configs: [string, RoutingConfig][] = [
  ...Object.entries(routingPresets).map(([name, c]): [string, RoutingConfig] => [name, c]),
  [
    'every scorer, small index, id ties',
    {
      filters: [{ name: 'model-match' }, { name: 'capability' }, { name: 'health' }, { name: 'draining' }],
      scorers: [
        { name: 'predicted-ttft', weight: 1.5, capacityBlocks: 6, blockTokens: 100, prefillTokensPerSecond: 1_000, decodeSlowdown: 0.5 },
        { name: 'prefix-affinity', weight: 2, yieldAtQueue: 3 },
        { name: 'least-outstanding', weight: 1 },
        { name: 'queue-depth', weight: 0.5, threshold: 2 },
        { name: 'kv-cache', weight: 0.25 },
      ],
      picker: { name: 'max-score', tieBreak: 'id' },
    },
  ],
  [
    'power of two',
    { filters: [{ name: 'health' }], scorers: [{ name: 'predicted-ttft', weight: 1 }], picker: { name: 'power-of-two', seed: 3 } },
  ],
];

describe('RoutingPipeline against the plain reference implementation', () => {
  it.each(configs)('%s: the same pick on every request of a moving fleet', (_name, config) => {
    fc.assert(
      fc.property(
        fc.array(arbWorker, { minLength: 0, maxLength: 24 }),
        fc.array(arbStep, { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        (workers, steps, withLanes) => {
          const inPool = new Set(workers.flatMap((w, i) => (w.pool ? [toEndpoint(w, i).id] : [])));
          const lanes: BatchLaneSpec = {
            minInteractive: 1,
            reserve: 0.25,
            concurrency: new Map([['*', 4]]),
            batchPool: (id) => inPool.has(id),
          };
          const { pipeline: preset } = buildRoutingPolicy(config);
          const pipeline = withLanes
            ? new RoutingPipeline({
                ...preset.parts,
                filters: [batchLaneFilter(lanes), batchPoolFilter(lanes), interactiveLaneFilter, ...preset.parts.filters],
              })
            : preset;
          const reference = referenceRouter(config, withLanes ? lanes : undefined);
          const fleet = workers.map(toEndpoint);
          let now = 4_000;
          for (const step of steps) {
            now += step.dt;
            const req: RoutingRequest = {
              model: 'm',
              capability: step.capability,
              arrivedAt: now,
              // two blocks every prompt shares, then one of a few conversations
              prefixBlocks: Array.from({ length: step.length }, (_, b) => (b < 2 ? b + 1 : 100 * step.chain + b)),
              kind: step.batch ? 'batch' : 'interactive',
            };
            const fast = pipeline.route(req, fleet);
            const plain = reference.route(req, fleet);
            expect(fast.outcome === 'picked' ? fast.endpoint.id : fast.reason).toBe(plain.picked?.id ?? plain.reason);
            // every candidate's score, not only the winner's: the trace's ranking is the pick's own sums
            expect(fast.trace.ranking).toEqual([...(plain.totals ?? [])].sort((a, b) => b.score - a.score));
            if (fleet.length > 0) {
              const i = step.moved % fleet.length;
              fleet[i] = toEndpoint(step.to, i);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
