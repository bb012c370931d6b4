import * as net from 'node:net';
import { connect, NatsConnection } from 'nats';
import { BusLink, BusLinkState, systemClock } from '@maas/platform';
import { PrivateNatsServer, startPrivateNatsServer } from '@maas/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** A TCP relay to a real server that can stop forwarding without closing anything: a hung server, as its clients see it. */
class FreezingRelay {
  private readonly sockets = new Set<net.Socket>();
  private frozen = false;
  private server?: net.Server;
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<this> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, '127.0.0.1');
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.sockets.add(from);
        if (this.frozen) from.pause();
        from.on('data', (d) => to.write(d));
        from.on('close', () => {
          this.sockets.delete(from);
          to.destroy();
        });
        from.on('error', () => undefined);
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  freeze(): void {
    this.frozen = true;
    for (const s of this.sockets) s.pause();
  }

  thaw(): void {
    this.frozen = false;
    for (const s of this.sockets) s.resume();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/** BusLink against a real NATS: a closed socket and a server that stops answering both count as the link down. */
describe('BusLink', () => {
  let nats: PrivateNatsServer;
  let relay: FreezingRelay;
  let nc: NatsConnection;
  let link: BusLink;
  const changes: BusLinkState[] = [];

  beforeAll(async () => {
    nats = await startPrivateNatsServer();
    relay = await new FreezingRelay(nats.port).start();
    // The client's own pings are far apart: what notices a hung server here is the link's probe.
    nc = await connect({
      servers: `nats://127.0.0.1:${relay.port}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
      pingInterval: 120_000,
    });
    link = new BusLink(nc, systemClock, { probeEveryMs: 200, probeTimeoutMs: 500 });
    link.onChange((s) => changes.push(s));
  });

  afterAll(async () => {
    await nc?.close();
    await relay?.stop();
    await nats?.stop();
  });

  it('is down while the server does not answer (socket open), and up again when it does', async () => {
    expect(link.state.connected).toBe(true);
    const frozenAt = Date.now();
    relay.freeze();
    await until(() => !link.state.connected, 5000, 'the link to go down');
    expect(link.state.reason).toMatch(/^no answer to a ping in 500 ms/);
    expect(link.state.since).toBeGreaterThanOrEqual(frozenAt);
    expect(nc.isClosed()).toBe(false);

    relay.thaw();
    await until(() => link.state.connected, 5000, 'the link to come back');
    expect(changes.map((c) => c.connected)).toEqual([false, true]);
  });

  it("is down from the client's disconnect when the server dies, and up at its reconnect", async () => {
    changes.length = 0;
    await nats.kill();
    await until(() => !link.state.connected, 5000, 'the link to go down');
    expect(link.state.reason).toBe('disconnected');
    await sleep(800);
    expect(link.state.connected).toBe(false); // answered pings from a buffer do not bring it back early
    await nats.restart();
    await until(() => link.state.connected, 15_000, 'the link to come back');
    expect(changes.map((c) => c.connected)).toEqual([false, true]);
  });
});
