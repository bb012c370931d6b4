import { JSONCodec } from 'nats';
import { WorkerRegistered } from '@maas/contracts';
import { findProfile, startSimServer, SimServer } from '@maas/engine-sim';
import { chatBody, json, MODEL, PROFILE, readSse, sleep, Stack, waitUntil } from './support/stack';

/**
 * Workers coming, going and failing under traffic: what the client sees, and how fast the
 * gateway's routing reacts. Round-robin routing makes "who got the request" predictable.
 */
describe('gateway: worker failures and membership changes', () => {
  const stack = new Stack({ GATEWAY_ROUTING: 'round-robin', GATEWAY_HOLD_TIMEOUT: '2s', LOG_LEVEL: 'debug' });

  beforeAll(async () => {
    await stack.start();
    await stack.startWorker();
  });

  afterAll(() => stack.stop());

  let key = '';
  const workerOf = async (requestId: string) => (await stack.usageOf(requestId))[0].workerId;

  beforeAll(async () => {
    key = (await stack.createKey()).secret;
  });

  it('routes to a new worker within 2 s of its registration', async () => {
    const newId = `w2-${stack.namespace.slice(-4)}`;
    let registeredAt = 0;
    const sub = stack.nc.subscribe(stack.subjects.subject('worker.registered'), {
      callback: (_e, m) => {
        if (!registeredAt && JSONCodec<WorkerRegistered>().decode(m.data).workerId === newId) registeredAt = Date.now();
      },
    });
    const starting = stack.startWorker([], { waitForGateway: false });
    const sent: { id: string; at: number }[] = [];
    const deadline = Date.now() + 30_000;
    for (let n = 0; Date.now() < deadline && !(registeredAt && Date.now() - registeredAt > 2500); n++) {
      const id = `req-newcomer-${n}-xxxxxxxx`;
      const at = Date.now();
      expect((await stack.post('/v1/chat/completions', key, chatBody(), { 'x-request-id': id })).status).toBe(200);
      sent.push({ id, at });
      await sleep(50);
    }
    sub.unsubscribe();
    expect((await starting).workerId).toBe(newId);
    await sleep(300);
    const byId = new Map((await stack.usageEvents()).map((e) => [e.clientRequestId ?? e.requestId, e.workerId]));
    const first = sent.find((s) => byId.get(s.id) === newId);
    expect(first).toBeDefined();
    const reactionMs = first!.at - registeredAt;
    process.stdout.write(`new worker: first request routed to it ${reactionMs} ms after its registration\n`);
    expect(reactionMs).toBeLessThan(2000);
  });

  it('retries on another worker when one refuses connections, then avoids it', async () => {
    expect(stack.workers.length).toBe(2);
    const victim = stack.workers[1];
    await victim.stop('SIGKILL');
    const results: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await stack.post('/v1/chat/completions', key, chatBody(), { 'x-request-id': `req-retry-${i}-xxxxxxxx` });
      results.push(res.status);
    }
    expect(results).toEqual(Array(8).fill(200));
    for (let i = 0; i < 8; i++) expect(await workerOf(`req-retry-${i}-xxxxxxxx`)).toBe(stack.workers[0].workerId);
    const retries = stack.gateway
      .records()
      .filter((r) => r.msg === 'worker unreachable; retrying elsewhere' && r.workerId === victim.workerId);
    expect(retries).toHaveLength(1); // marked failed after the first refusal: the next requests avoid it
  });

  it('stops routing to a worker within ~5 s of its last heartbeat', async () => {
    const sim: SimServer = await startSimServer({ profile: findProfile(PROFILE), port: 0, startupSeconds: 0 });
    const workerId = `silent-${stack.namespace.slice(-6)}`;
    const registration: WorkerRegistered = {
      workerId,
      url: sim.url,
      hardware: 'gpu',
      capacity: 8,
      vmId: 'vm-test',
      runtime: { kind: 'sim-engine' },
      models: [{ id: MODEL, capabilities: ['chat', 'completion', 'embedding'] }],
      sentAt: new Date().toISOString(),
    };
    stack.bus.publish('worker.registered', registration);
    let lastBeat = Date.now();
    const beats = setInterval(() => {
      lastBeat = Date.now();
      stack.bus.publish('worker.heartbeat', {
        workerId,
        state: 'ready',
        load: { running: 0, waiting: 0 },
        sentAt: new Date().toISOString(),
      });
    }, 500);
    try {
      await stack.gateway.waitFor((r) => r.msg === 'worker joined' && r.workerId === workerId, 5000);
      // Both workers take traffic while heartbeats flow.
      const before: string[] = [];
      for (let i = 0; i < 4; i++) {
        const id = `req-hb-before-${i}-xxxxxxxx`;
        const r = await stack.post('/v1/chat/completions', key, chatBody(), { 'x-request-id': id });
        if (r.status !== 200) process.stdout.write(`${r.status} ${await r.text()} key=${key}\n`);
        expect(r.status).toBe(200);
        before.push(id);
      }
      const seen = await Promise.all(before.map(workerOf));
      if (!seen.includes(workerId)) process.stdout.write(stack.gateway.lines.slice(-30).join('\n'));
      expect(new Set(seen)).toEqual(new Set([workerId, stack.workers[0].workerId]));

      clearInterval(beats);
      const silentSince = lastBeat;
      const sent: { id: string; at: number }[] = [];
      for (let i = 0; Date.now() - silentSince < 8000; i++) {
        const id = `req-hb-after-${i}-xxxxxxxx`;
        const at = Date.now();
        expect((await stack.post('/v1/chat/completions', key, chatBody(), { 'x-request-id': id })).status).toBe(200);
        sent.push({ id, at });
        await sleep(100);
      }
      await sleep(300);
      const byId = new Map((await stack.usageEvents()).map((e) => [e.clientRequestId ?? e.requestId, e.workerId]));
      const toSilent = sent.filter((s) => byId.get(s.id) === workerId);
      const lastToSilent = Math.max(...toSilent.map((s) => s.at));
      const reactionMs = lastToSilent - silentSince;
      process.stdout.write(`silent worker: last request routed to it ${reactionMs} ms after its last heartbeat\n`);
      expect(toSilent.length).toBeGreaterThan(0);
      expect(reactionMs).toBeLessThan(5600);
      const after = sent.filter((s) => s.at > silentSince + 5600);
      expect(after.length).toBeGreaterThan(5);
      expect(after.every((s) => byId.get(s.id) === stack.workers[0].workerId)).toBe(true);
    } finally {
      clearInterval(beats);
      await sim.close();
    }
  });

  it('ends a stream with an SSE error event and a clean close when its worker dies mid-stream', async () => {
    const doomed = await stack.startWorker(['--sim-model', 'doomed/model']);
    await waitUntil(
      async () =>
        (await json(await fetch(stack.url('/v1/models'), { headers: { authorization: `Bearer ${key}` } }))).data.some(
          (m: { id: string }) => m.id === 'doomed/model',
        ),
      5000,
      'doomed/model to be ready',
    );
    const res = await stack.post(
      '/v1/chat/completions',
      key,
      chatBody({ model: 'doomed/model', stream: true, max_tokens: 5000, ignore_eos: true }),
      { 'x-request-id': 'req-doomed-stream' },
    );
    expect(res.status).toBe(200);
    let killedAt = 0;
    const read = await readSse(res, (_d, i) => {
      if (i === 5) {
        killedAt = Date.now();
        void doomed.stop('SIGKILL');
      }
    });
    const endedMs = Date.now() - killedAt;
    process.stdout.write(`worker killed mid-stream: client saw the end ${endedMs} ms later\n`);
    expect(read.cleanClose).toBe(true);
    expect(read.done).toBe(false);
    const last = read.events[read.events.length - 1] as { error?: { message: string; type: string; code: string } };
    expect(last.error).toMatchObject({ type: 'server_error', code: 'upstream_disconnected' });
    expect(endedMs).toBeLessThan(1000);
    const events = await stack.usageOf('req-doomed-stream');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      status: 502,
      errorCode: 'upstream_disconnected',
      stream: true,
      tokensCountedBy: 'gateway',
      workerId: doomed.workerId,
    });
    expect(events[0].completionTokens).toBeGreaterThanOrEqual(5);
  });

  it('drains a worker on SIGTERM: its stream finishes, new requests go elsewhere, it deregisters and exits', async () => {
    const draining = await stack.startWorker(['--sim-model', 'drain/model']);
    await waitUntil(
      async () =>
        (await json(await fetch(stack.url('/v1/models'), { headers: { authorization: `Bearer ${key}` } }))).data.some(
          (m: { id: string }) => m.id === 'drain/model',
        ),
      5000,
      'drain/model to be ready',
    );
    const res = await stack.post(
      '/v1/chat/completions',
      key,
      chatBody({ model: 'drain/model', stream: true, max_tokens: 600, ignore_eos: true }),
      { 'x-request-id': 'req-drain-stream' },
    );
    const reading = readSse(res);
    await sleep(200);
    const exited = draining.stop('SIGTERM');
    await stack.gateway.waitFor((r) => r.msg === 'worker draining' && r.workerId === draining.workerId, 3000);
    const refused = await stack.post('/v1/chat/completions', key, chatBody({ model: 'drain/model' }), {
      'x-request-id': 'req-drain-refused',
    });
    expect(refused.status).toBe(503); // held for the hold timeout, then no capacity
    expect((await json(refused)).error.code).toBe('no_capacity');
    expect((await stack.usageOf('req-drain-refused'))[0].workerId).toBeNull(); // it never reached the draining worker
    const read = await reading;
    expect(read).toMatchObject({ done: true, cleanClose: true });
    expect(await exited).toBe(0);
    expect(draining.records().some((r) => r.msg === 'drained')).toBe(true);
    await stack.gateway.waitFor((r) => r.msg === 'worker left' && r.workerId === draining.workerId, 3000);
    expect((await stack.usageOf('req-drain-stream'))[0]).toMatchObject({ status: 200, completionTokens: 600 });
  });

  it('stored exactly one usage event per request', async () => {
    await sleep(300);
    const ids = (await stack.usageEvents()).map((e) => e.requestId);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
