import { loadConfig } from '@maas/config';
import { Logger } from '@maas/logging';
import { factory } from '@maas/testing';
import { gatewayConfigSpec } from '../gateway.config';
import { gatewayClock } from '../repositories/clock';
import type { RegistryRepository } from '../repositories/registry.repository';
import { RoutingService } from './routing.service';
import { WorkerRegistryService } from './worker-registry.service';

const MODEL = 'route/model';
const query = { model: MODEL, capability: 'chat' as const, prefix: 'hello' };

/**
 * Routing reads a worker's load now, not as last heard: the gateway notes its own requests there at each heartbeat,
 * so the heartbeat's requests that were ours count as they are now (finished ones gone, new ones there).
 */
describe('RoutingService reads load since the last heartbeat', () => {
  let registry: WorkerRegistryService;
  let routing: RoutingService;

  beforeEach(() => {
    const config = loadConfig(gatewayConfigSpec, {});
    const router = new Proxy({}, { get: () => () => Promise.reject(new Error('no router here')) }) as RegistryRepository;
    registry = new WorkerRegistryService(config, gatewayClock, router, new Logger('routing-test', 'error'));
    routing = new RoutingService(config, gatewayClock, registry);
    for (const workerId of ['a', 'b'])
      registry.registered(factory.workerRegistered({ workerId, capacity: 4, models: [{ id: MODEL, capabilities: ['chat'] }] }));
  });

  const heartbeat = (workerId: string, running: number, waiting: number) =>
    registry.heartbeat(factory.workerHeartbeat({ workerId, load: { running, waiting, kvCacheUsage: 0.1 } }));
  const pick = () => {
    const decision = routing.route(query, new Set());
    if (decision?.outcome !== 'picked') throw new Error(`no pick: ${JSON.stringify(decision)}`);
    return decision.endpoint.id;
  };

  it('sends to a worker whose heartbeat showed a queue of ours that has finished since, not to one busy with ours now', () => {
    // a: seven of ours, four running and three waiting, as its heartbeat says; b idle as heard
    for (let i = 0; i < 7; i++) routing.started('a');
    heartbeat('a', 4, 3);
    heartbeat('b', 0, 0);
    // then b gets two of ours and a's seven all finish: a is idle now, b is not
    routing.started('b');
    routing.started('b');
    for (let i = 0; i < 7; i++) routing.finished('a');
    expect(pick()).toBe('a');
  });

  it("counts the heartbeat's requests that were not this gateway's as still there", () => {
    // a runs three of another gateway's and none of ours; b has one of ours, sent after its idle heartbeat
    heartbeat('a', 3, 2);
    heartbeat('b', 0, 0);
    routing.started('b');
    expect(pick()).toBe('b');
  });
});
