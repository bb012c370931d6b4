import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startService, StartedService } from '@maas/testing';
import { chatBody, Stack, sleep, waitUntil } from './support/stack';

/** A NATS server of this test's own, so it can be stopped and started again. */
class PrivateNats {
  private child?: ChildProcess;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-nats-'));
  port = 0;

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (!this.port) {
      this.port = await new Promise<number>((resolve) => {
        const probe = net.createServer().listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as net.AddressInfo;
          probe.close(() => resolve(port));
        });
      });
    }
    this.child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.dir], { stdio: 'ignore' });
    await waitUntil(
      () =>
        new Promise<boolean>((resolve) => {
          const s = net.connect(this.port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        }),
      10_000,
      'nats-server to listen',
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('gateway: usage events survive a NATS outage, a gateway crash and a collector restart, and reach the ledger once', () => {
  const nats = new PrivateNats();
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-usage-spool-'));
  let stack: Stack;
  let collector: StartedService;
  let key: string;

  /** Ledger rows per request id, once every id in `ids` has one (the collector writes batches). */
  const ledgerRows = (ids: readonly string[]) =>
    waitUntil(
      async () => {
        const rows = await stack.db.query<{ request_id: string; n: number }>(
          'SELECT client_request_id AS request_id, count(*)::int AS n FROM usage_records WHERE client_request_id = ANY($1) GROUP BY client_request_id',
          [ids],
        );
        return rows.length === ids.length ? Object.fromEntries(rows.map((r) => [r.request_id, r.n])) : undefined;
      },
      30_000,
      `ledger rows of ${ids.length} requests`,
    );
  const once = (ids: readonly string[]) => Object.fromEntries(ids.map((id) => [id, 1]));
  const chat = (id: string, stream = false) => stack.post('/v1/chat/completions', key, chatBody({ stream }), { 'x-request-id': id });

  beforeAll(async () => {
    await nats.start();
    stack = new Stack({ GATEWAY_USAGE_SPOOL_DIR: spoolDir }, nats.url);
    await stack.start();
    collector = await startService('metrics-collector', stack.env);
    await stack.startWorker();
    key = (await stack.createKey()).secret;
  });

  afterAll(async () => {
    await nats.start().catch(() => undefined); // the stack's clean-up needs it
    await collector?.stop();
    await stack?.stop();
    await nats.stop();
    nats.remove();
    fs.rmSync(spoolDir, { recursive: true, force: true });
  });

  it('keeps serving while NATS is down, buffers usage, and stores each event exactly once afterwards', async () => {
    expect((await stack.post('/v1/chat/completions', key, chatBody(), { 'x-request-id': 'req-outage-before' })).status).toBe(200);
    await stack.usageOf('req-outage-before');

    await nats.stop();
    const during: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = `req-outage-during-${i}`;
      // Keys come from the cache and workers from the replica: no NATS on the request path.
      expect((await chat(id, i % 2 === 0)).status).toBe(200);
      during.push(id);
    }
    // Several batches' worth at once: the gateway gathers them while it cannot send.
    const burst = Array.from({ length: 40 }, (_, i) => `req-outage-burst-${i}`);
    expect((await Promise.all(burst.map((id) => chat(id)))).map((r) => r.status)).toEqual(burst.map(() => 200));
    during.push(...burst);
    await stack.gateway.waitFor((r) => r.msg === 'usage events cannot be stored; buffering and retrying', 10_000);
    await sleep(500);
    await nats.start();
    await stack.gateway.waitFor((r) => r.msg === 'usage events flowing again', 20_000);

    const events = await waitUntil(
      async () => {
        const all = await stack.usageEvents().catch(() => []);
        return during.every((id) => all.some((e) => e.clientRequestId === id)) ? all : undefined;
      },
      10_000,
      'buffered events in the stream',
    );
    const ids = events.map((e) => e.clientRequestId);
    expect([...new Set(ids)].sort()).toEqual(['req-outage-before', ...during].sort());
    expect(await ledgerRows(['req-outage-before', ...during])).toEqual(once(['req-outage-before', ...during]));
    // In batches: what waited through the outage left in a few messages, not one per request.
    const jsm = await stack.nc.jetstreamManager();
    const stream = await jsm.streams.info(stack.subjects.stream('usage'), { subjects_filter: '>' });
    expect(Object.keys(stream.state.subjects ?? {})).toEqual([stack.subjects.subject('usage.requests-completed')]);
    expect(stream.state.messages).toBeLessThan(ids.length / 4);
    const metrics = await (await fetch(stack.url('/metrics'))).text();
    expect(metrics).toMatch(/maas_gateway_usage_events_dropped_total(\{[^}]*\})? 0/);
  });

  it('keeps the buffer in a spool when the gateway dies during the outage; the next gateway stores it', async () => {
    const outages = () => stack.gateway.records().filter((r) => r.msg === 'usage events cannot be stored; buffering and retrying').length;
    const before = outages();
    await nats.stop();
    const during = ['req-spool-0', 'req-spool-1', 'req-spool-2'];
    for (const id of during) expect((await stack.post('/v1/chat/completions', key, chatBody(), { 'x-request-id': id })).status).toBe(200);
    await waitUntil(() => outages() > before || undefined, 15_000, 'the gateway to notice the outage');
    // a crash: nothing flushed, nothing said
    const dead = stack.gateway;
    await dead.stop('SIGKILL');
    const spooled = fs.readdirSync(spoolDir).flatMap((f) =>
      fs
        .readFileSync(path.join(spoolDir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).clientRequestId as string),
    );
    expect(spooled.sort()).toEqual(during.sort());

    await nats.start();
    const next = await stack.startGateway();
    await next.waitFor((r) => r.msg === 'usage events recovered from a spool' && r.events === 3, 10_000);
    await next.waitFor((r) => r.msg === 'usage events flowing again' || r.msg === 'ready', 10_000);
    const events = await waitUntil(
      async () => {
        const all = await stack.usageEvents().catch(() => []);
        return during.every((id) => all.some((e) => e.clientRequestId === id)) ? all : undefined;
      },
      20_000,
      'the spooled events in the stream',
    );
    for (const id of during) expect(events.filter((e) => e.clientRequestId === id)).toHaveLength(1);
    expect(await ledgerRows(during)).toEqual(once(during));
    await waitUntil(() => fs.readdirSync(spoolDir).length === 0 || undefined, 10_000, 'the spool emptied');
  });

  it('counts each request once when the collector dies in the middle of batches and comes back', async () => {
    // The gateway that recovered the spool serves from here on; the first one was killed.
    const gateway = stack.moreGateways.at(-1)!;
    const chatVia = (id: string) =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-request-id': id },
        body: JSON.stringify(chatBody()),
      });
    const first = Array.from({ length: 30 }, (_, i) => `req-collector-${i}`);
    const sent = Promise.all(first.map(chatVia));
    await sleep(100);
    await collector.stop('SIGKILL'); // a crash between writing a batch and acknowledging it is what redelivery covers
    expect((await sent).map((r) => r.status)).toEqual(first.map(() => 200));
    const second = Array.from({ length: 10 }, (_, i) => `req-collector-after-${i}`);
    for (const id of second) expect((await chatVia(id)).status).toBe(200);
    collector = await startService('metrics-collector', stack.env);
    expect(await ledgerRows([...first, ...second])).toEqual(once([...first, ...second]));
  });
});
