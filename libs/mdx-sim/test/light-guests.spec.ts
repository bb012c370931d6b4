import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { JSONCodec, NatsConnection } from 'nats';
import { MessageName, Subjects } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { testNamespace, testNats, testNatsUrl } from '@maas/testing';
import { LightGuestEvent, LightGuests, MdxSimVm, startLightGuests } from '../src';

const MODEL = 'Qwen/Qwen2.5-3B-Instruct';

async function until<T>(check: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const vm = (id: string): MdxSimVm => ({ id, name: id, packType: 'gpu', packNum: 1, worker: ['--launch', 'sim-engine'], failFirstBoots: 0 });

/** Light guests over real NATS: several real worker agents per VM, one shared runtime behind an HTTP front. */
describe('startLightGuests', () => {
  const namespace = testNamespace();
  const subjects = new Subjects(namespace);
  const seen: { name: MessageName; msg: Record<string, unknown> }[] = [];
  const events: LightGuestEvent[] = [];
  const runtimePaths: string[] = [];
  let nc: NatsConnection;
  let runtime: http.Server;
  let guests: LightGuests;

  beforeAll(async () => {
    nc = await testNats();
    for (const name of ['worker.registered', 'worker.heartbeat', 'worker.draining', 'worker.deregistered'] as MessageName[]) {
      nc.subscribe(subjects.subject(name), {
        callback: (_e, m) => seen.push({ name, msg: JSONCodec<Record<string, unknown>>().decode(m.data) }),
      });
    }
    runtime = http.createServer((req, res) => {
      runtimePaths.push(req.url ?? '');
      req.resume();
      req.once('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    });
    await new Promise<void>((r) => runtime.listen(0, '127.0.0.1', () => r()));
    guests = await startLightGuests({
      natsUrl: testNatsUrl(),
      namespace,
      runtimeUrl: `http://127.0.0.1:${(runtime.address() as AddressInfo).port}`,
      model: MODEL,
      workersPerVm: 3,
      capacity: 8,
      hardware: 'gpu',
      logger: new Logger('light-guests-test', 'silent'),
      heartbeatMs: 200,
      drainTimeoutMs: 1000,
      onEvent: (e) => events.push(e),
    });
  });

  afterAll(async () => {
    await guests?.close();
    runtime?.close();
    await nc?.close();
  });

  it('registers every worker of a PowerON VM, heartbeats, forwards routed requests, and drains on SIGTERM', async () => {
    const guest = guests.launch(vm('vm-a'));
    const registered = await until(
      () => {
        const r = seen.filter((s) => s.name === 'worker.registered' && s.msg.vmId === 'vm-a' && s.msg.state === 'ready');
        return new Set(r.map((s) => s.msg.workerId)).size === 3 && r;
      },
      10_000,
      'three ready registrations',
    );
    const first = registered.find((s) => s.msg.workerId === 'vm-a-w01')!.msg;
    expect(first).toMatchObject({
      url: `${guests.frontUrl}/w/vm-a-w01`,
      models: [{ id: MODEL }],
      runtime: { kind: 'sim-engine' },
      capacity: 8,
      hardware: 'gpu',
    });
    await until(() => seen.some((s) => s.name === 'worker.heartbeat' && s.msg.workerId === 'vm-a-w03'), 5000, 'a heartbeat of vm-a-w03');

    const res = await fetch(`${first.url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(200);
    expect(runtimePaths).toContain('/v1/chat/completions');
    expect(events.find((e) => e.kind === 'first-request')).toMatchObject({ vmId: 'vm-a', workerId: 'vm-a-w01' });

    guest.signal('SIGTERM');
    await guest.exited;
    // Published before the guest exits, but this subscription may hear the last of them a moment later.
    const ids = ['vm-a-w01', 'vm-a-w02', 'vm-a-w03'];
    await until(
      () => ids.every((id) => seen.some((s) => s.name === 'worker.deregistered' && s.msg.workerId === id)),
      5000,
      'three deregistrations',
    );
    for (const id of ids) {
      expect(seen.some((s) => s.name === 'worker.draining' && s.msg.workerId === id)).toBe(true);
      expect(seen.find((s) => s.name === 'worker.deregistered' && s.msg.workerId === id)?.msg.reason).toBe('shutdown');
    }
    expect(events.find((e) => e.kind === 'ended')).toMatchObject({ vmId: 'vm-a', how: 'drained' });
    expect((await fetch(`${first.url}/v1/chat/completions`, { method: 'POST', body: '{}' })).status).toBe(404);
  }, 30_000);

  it('lets the workers of a VM switched off vanish without a goodbye', async () => {
    const guest = guests.launch(vm('vm-b'));
    await until(
      () => seen.filter((s) => s.name === 'worker.registered' && s.msg.vmId === 'vm-b').length >= 3,
      10_000,
      'vm-b registrations',
    );
    guest.signal('SIGKILL');
    await guest.exited;
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.some((s) => s.name === 'worker.deregistered' && String(s.msg.workerId).startsWith('vm-b'))).toBe(false);
    expect(guests.counters).toMatchObject({ launched: 2, ended: 2, agents: 0 });
  }, 30_000);
});
