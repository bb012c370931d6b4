import { CapacityEvent } from './capacity-provider';
import { SimulatedCapacityProvider, validateSimulatedProviderSpec, defaultSimulatedProviderSpec } from './simulated-provider';

const request = { vmType: 'gpu-a100', model: 'qwen' };

/** Starts `n` nodes at t = 0 and runs until every boot has settled. */
function bootMany(seed: number, n: number, failureProbability: number) {
  const provider = new SimulatedCapacityProvider({ seed, failureProbability });
  const events: CapacityEvent[] = [];
  provider.subscribe((e) => events.push(e));
  for (let i = 0; i < n; i += 1) provider.startVm(request, 0);
  for (let t = provider.nextEventTime(); t !== undefined; t = provider.nextEventTime()) provider.advance(t);
  return { provider, events };
}

describe('simulated capacity provider', () => {
  it('boots in 2–5 min, fails about as often as asked, and is the same for the same seed', () => {
    const { events } = bootMany(11, 2000, 0.05);
    const ready = events.filter((e) => e.to === 'ready');
    const failed = events.filter((e) => e.to === 'failed');
    expect(ready.length + failed.length).toBe(2000);
    expect(failed.length / 2000).toBeGreaterThan(0.035);
    expect(failed.length / 2000).toBeLessThan(0.065);
    const boots = ready.map((e) => e.at);
    expect(Math.min(...boots)).toBeGreaterThanOrEqual(120);
    expect(Math.max(...boots)).toBeLessThanOrEqual(300);
    expect(bootMany(11, 2000, 0.05).events).toEqual(events);
    expect(bootMany(12, 2000, 0.05).events).not.toEqual(events);
  });

  it('goes booting → ready → draining → stopped, billing from request to stop', () => {
    const provider = new SimulatedCapacityProvider({ bootSeconds: { min: 200, max: 200 }, failureProbability: 0 });
    const vm = provider.startVm(request, 10);
    expect(vm).toMatchObject({ id: 'sim-0001', state: 'booting', requestedAt: 10 });
    expect(provider.nextEventTime()).toBe(210);
    expect(provider.advance(209)).toEqual([]);
    expect(provider.advance(300)).toEqual([
      {
        vmId: 'sim-0001',
        provider: 'simulated',
        vmType: 'gpu-a100',
        model: 'qwen',
        from: 'booting',
        to: 'ready',
        at: 210,
        reason: 'booted in 3.3 min',
      },
    ]);
    expect(() => provider.drainVm('sim-0002', 300)).toThrow('no node "sim-0002"');
    expect(provider.drainVm('sim-0001', 400).state).toBe('draining');
    expect(provider.usage(1000)).toEqual({ 'gpu-a100': 990 });
    expect(provider.stopVm('sim-0001', 1000).state).toBe('stopped');
    expect(provider.records()).toEqual([]);
    expect(provider.usage(5000)).toEqual({ 'gpu-a100': 990 });
  });

  it('abandons a boot when stopped before ready, and honours stopSeconds', () => {
    const provider = new SimulatedCapacityProvider({ bootSeconds: { min: 200, max: 200 }, failureProbability: 0, stopSeconds: 30 });
    provider.startVm(request, 0);
    expect(provider.stopVm('sim-0001', 50).state).toBe('stopping');
    expect(provider.advance(79)).toEqual([]);
    expect(provider.advance(500).map((e) => `${e.from}→${e.to}@${e.at}`)).toEqual(['stopping→stopped@80']);
    expect(provider.usage(500)).toEqual({ 'gpu-a100': 80 });
  });

  it('serves the async CapacityProvider interface at its virtual time', async () => {
    const provider = new SimulatedCapacityProvider({ bootSeconds: { min: 120, max: 120 }, failureProbability: 0 });
    provider.advance(100);
    const vm = await provider.start(request);
    expect(vm.requestedAt).toBe(100);
    provider.advance(220);
    expect((await provider.state(vm.id))?.state).toBe('ready');
    expect(await provider.list()).toHaveLength(1);
    await provider.drain(vm.id);
    await provider.stop(vm.id);
    expect(await provider.list()).toHaveLength(0);
    expect(() => provider.advance(200)).toThrow('time went back');
  });

  it.each([
    [{ bootSeconds: { min: 300, max: 120 } }, 'bootSeconds must be { min ≥ 0, max ≥ min }'],
    [{ failureProbability: 2 }, 'failureProbability must be in [0, 1], got 2'],
    [{ seed: 1.5 }, 'seed must be an integer, got 1.5'],
  ])('rejects %j', (overrides, message) => {
    expect(validateSimulatedProviderSpec({ ...defaultSimulatedProviderSpec, ...overrides })).toContain(message);
  });
});
