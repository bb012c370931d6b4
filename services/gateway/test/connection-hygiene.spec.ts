import * as net from 'node:net';
import { chatBody, readSse, sleep, Stack } from './support/stack';

/** A raw TCP client: what it was sent back and when the gateway closed it. */
function rawClient(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  const state = { data: '', closedAt: undefined as number | undefined, opened: Date.now() };
  socket.on('data', (d) => (state.data += d.toString()));
  socket.on('error', () => undefined);
  socket.on('close', () => (state.closedAt = Date.now()));
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, state, connected };
}

describe('gateway connection hygiene', () => {
  // Small values, so the test sees them act; the defaults are 10 s, 2 min, 5 s and 4096.
  const stack = new Stack({
    GATEWAY_HEADERS_TIMEOUT: '1s',
    GATEWAY_REQUEST_TIMEOUT: '2s',
    GATEWAY_KEEPALIVE_TIMEOUT: '1s',
    GATEWAY_MAX_CONNECTIONS: '20',
  });
  let key: string;
  let port: number;

  beforeAll(async () => {
    await stack.start();
    await stack.startWorker();
    key = (await stack.createKey()).secret;
    port = Number(new URL(stack.gateway.url).port);
  });

  afterAll(() => stack.stop());

  it('answers 408 and closes a connection trickling its headers, after the headers timeout', async () => {
    const c = rawClient(port);
    await c.connected;
    c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => c.socket.writable && c.socket.write('X-Slow: 1\r\n'), 200);
    while (c.state.closedAt === undefined && Date.now() - c.state.opened < 10_000) await sleep(50);
    clearInterval(trickle);
    expect(c.state.data).toMatch(/^HTTP\/1\.1 408/);
    expect(c.state.closedAt! - c.state.opened).toBeGreaterThanOrEqual(900);
    expect(c.state.closedAt! - c.state.opened).toBeLessThan(3000);
  });

  it('answers 408 and closes a connection trickling its body, after the request timeout', async () => {
    const c = rawClient(port);
    await c.connected;
    c.socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`,
    );
    const trickle = setInterval(() => c.socket.writable && c.socket.write(' '), 200);
    while (c.state.closedAt === undefined && Date.now() - c.state.opened < 10_000) await sleep(50);
    clearInterval(trickle);
    expect(c.state.data).toMatch(/^HTTP\/1\.1 408/);
    expect(c.state.closedAt! - c.state.opened).toBeGreaterThanOrEqual(1900);
    expect(c.state.closedAt! - c.state.opened).toBeLessThan(4500);
  });

  it('lets a stream run past the request timeout to its end', async () => {
    const started = Date.now();
    const res = await stack.post('/v1/chat/completions', key, chatBody({ stream: true, max_tokens: 1200, ignore_eos: true }));
    expect(res.status).toBe(200);
    const sse = await readSse(res);
    const took = Date.now() - started;
    expect(took).toBeGreaterThan(2500); // longer than GATEWAY_REQUEST_TIMEOUT, or the test proves nothing
    expect(sse.cleanClose).toBe(true);
    expect(sse.done).toBe(true);
  });

  it('closes an idle kept-alive connection after the keep-alive timeout', async () => {
    const c = rawClient(port);
    await c.connected;
    c.socket.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    while (!c.state.data.includes('\r\n\r\n')) await sleep(20);
    const answered = Date.now();
    while (c.state.closedAt === undefined && Date.now() - answered < 10_000) await sleep(50);
    expect(c.state.data).toMatch(/^HTTP\/1\.1 200/);
    expect(c.state.closedAt! - answered).toBeGreaterThanOrEqual(800);
    expect(c.state.closedAt! - answered).toBeLessThan(3000);
  });

  it('holds at most GATEWAY_MAX_CONNECTIONS connections; beyond them new ones are closed at once, and room comes back', async () => {
    const clients = [];
    for (let i = 0; i < 25; i++) {
      const c = rawClient(port);
      await c.connected;
      clients.push(c);
      await sleep(10);
    }
    await sleep(300);
    const open = clients.filter((c) => c.state.closedAt === undefined);
    expect(open).toHaveLength(20);
    for (const c of clients) c.socket.destroy();
    await sleep(300);
    expect((await fetch(stack.url('/health'))).status).toBe(200);
  });
});
