import { parseMdxSimConfig } from './sim-config';
import { GuestLauncher, VmFleet } from './vm-fleet';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The VM state machine with guests that only record their signals (no processes). */
describe('VmFleet', () => {
  const fleetOf = (extra: Record<string, unknown>, vms: Record<string, unknown>[] = [{ id: 'vm-1', worker: [] }]) => {
    const launched: string[] = [];
    const signals: string[] = [];
    const launch: GuestLauncher = (vm) => {
      launched.push(vm.id);
      let exit!: () => void;
      const exited = new Promise<void>((resolve) => (exit = resolve));
      return { pid: undefined, exited, signal: (s) => (signals.push(s), void setTimeout(exit, 5)) };
    };
    const config = parseMdxSimConfig({
      users: [{ username: 'u', password: 'p' }],
      bootSeconds: { kind: 'fixed', seconds: 0.01 },
      powerOffSeconds: 0.01,
      projects: [{ id: 'p', vms }],
      ...extra,
    });
    return { fleet: new VmFleet(config, launch), launched, signals };
  };
  const settle = async (fleet: VmFleet, id: string) => {
    for (let i = 0; i < 200 && fleet.get(id)!.task !== null; i++) await sleep(5);
  };

  it('boots asynchronously, refuses operations that do not fit the state, shuts the guest down with SIGTERM', async () => {
    const { fleet, launched, signals } = fleetOf({});
    fleet.powerOn('vm-1');
    expect(fleet.get('vm-1')).toMatchObject({ status: 'PowerOFF', task: 'power_on' });
    expect(() => fleet.powerOn('vm-1')).toThrow('VM vm-1 is busy with power_on; power_on refused');
    await settle(fleet, 'vm-1');
    expect(fleet.get('vm-1')).toMatchObject({ status: 'PowerON', boots: 1 });
    expect(launched).toEqual(['vm-1']);
    expect(() => fleet.powerOn('vm-1')).toThrow('VM vm-1 is PowerON; power_on needs PowerOFF');
    fleet.shutdown('vm-1');
    await settle(fleet, 'vm-1');
    expect(fleet.get('vm-1')!.status).toBe('PowerOFF');
    expect(signals).toEqual(['SIGTERM']);
    expect(() => fleet.shutdown('vm-1')).toThrow('VM vm-1 is PowerOFF; shutdown needs PowerON');
  });

  it('fails the configured fraction of boots, from its seed', async () => {
    const rate = async (seed: number) => {
      const { fleet, launched } = fleetOf({ seed, bootFailureRate: 0.25, bootFailureMode: 'stays-off' });
      for (let i = 0; i < 200; i++) {
        fleet.powerOn('vm-1');
        await settle(fleet, 'vm-1');
        if (fleet.get('vm-1')!.status === 'PowerON') {
          fleet.powerOff('vm-1');
          await settle(fleet, 'vm-1');
        }
      }
      expect(launched.length + fleet.get('vm-1')!.failedBoots).toBe(200);
      return fleet.get('vm-1')!.failedBoots;
    };
    const failed = await rate(5);
    expect(failed).toBeGreaterThan(30);
    expect(failed).toBeLessThan(70);
    expect(await rate(5)).toBe(failed);
  });

  it('a hung guest reaches PowerON without a worker and ignores a shutdown; power_off ends it', async () => {
    const { fleet, launched } = fleetOf({}, [{ id: 'vm-h', worker: [], failFirstBoots: 1 }]);
    fleet.powerOn('vm-h');
    await settle(fleet, 'vm-h');
    expect(fleet.get('vm-h')).toMatchObject({ status: 'PowerON', failedBoots: 1 });
    expect(launched).toEqual([]);
    fleet.shutdown('vm-h');
    await sleep(50);
    expect(fleet.get('vm-h')!.status).toBe('PowerON');
    fleet.powerOff('vm-h');
    await settle(fleet, 'vm-h');
    expect(fleet.get('vm-h')!.status).toBe('PowerOFF');
    // its next boot is a good one
    fleet.powerOn('vm-h');
    await settle(fleet, 'vm-h');
    expect(launched).toEqual(['vm-h']);
  });
});
