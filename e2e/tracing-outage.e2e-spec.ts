import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RequestCompleted, RequestsCompleted } from '@maas/contracts';
import { PrivateNatsServer, startPrivateNatsServer, startService, StartedService } from '@maas/testing';
import { chatBody, Stack, waitUntil } from '../services/gateway/test/support/stack';
import { OtlpReceiver, SPAN_KIND } from './support/otlp-receiver';

const TRACE_ENV = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_BSP_SCHEDULE_DELAY'] as const;
const OUTAGE = 'usage events cannot be stored; buffering and retrying';

/**
 * A usage event waits in the gateway's buffer (and spool) while NATS is away: when it is finally
 * stored, it must still carry the trace of the request it accounts, captured at completion — not
 * whatever is active when the buffer drains, nor nothing after a crash.
 */
describe('tracing: usage events keep their request trace through a NATS outage', () => {
  const receiver = new OtlpReceiver();
  const saved = Object.fromEntries(TRACE_ENV.map((k) => [k, process.env[k]]));
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-usage-spool-'));
  let nats: PrivateNatsServer;
  let stack: Stack;
  let collector: StartedService;
  let key: string;

  /** The `traceparent` of the stored usage event of a request: its record's in a batch, the header of a single event. */
  const storedTraceparent = (requestId: string) =>
    waitUntil(
      async () => {
        try {
          const jsm = await stack.nc.jetstreamManager();
          const name = stack.subjects.stream('usage');
          const info = await jsm.streams.info(name);
          for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
            const m = await jsm.streams.getMessage(name, { seq });
            const body = JSON.parse(new TextDecoder().decode(m.data)) as RequestCompleted | RequestsCompleted;
            if (!('records' in body)) {
              if (body.clientRequestId === requestId) return m.header.get('traceparent');
              continue;
            }
            const record = body.records.find((r) => (r.event as RequestCompleted).clientRequestId === requestId);
            if (record) return record.traceparent ?? '';
          }
        } catch {
          // NATS is still coming back
        }
        return undefined;
      },
      20_000,
      `the stored usage event of ${requestId}`,
    );

  const post = (requestId: string, traceId: string) =>
    stack.post('/v1/chat/completions', key, chatBody(), {
      'x-request-id': requestId,
      traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
    });

  beforeAll(async () => {
    await receiver.start();
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
    process.env.OTEL_BSP_SCHEDULE_DELAY = '200';
    nats = await startPrivateNatsServer();
    stack = await new Stack({ GATEWAY_USAGE_SPOOL_DIR: spoolDir }, nats.url).start();
    collector = await startService('metrics-collector', stack.env);
    await stack.startWorker();
    key = (await stack.createKey()).secret;
    // Key cached and worker known: requests need no NATS from here on.
    expect((await stack.post('/v1/chat/completions', key, chatBody())).status).toBe(200);
  });

  afterAll(async () => {
    await nats?.restart().catch(() => undefined); // the stack's clean-up needs it
    await collector?.stop();
    await stack?.stop();
    await nats?.stop();
    await receiver.stop();
    fs.rmSync(spoolDir, { recursive: true, force: true });
    for (const k of TRACE_ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('an event buffered during the outage is stored with the trace of its request', async () => {
    await nats.kill();
    const traceId = randomBytes(16).toString('hex');
    expect((await post('req-trace-buffered', traceId)).status).toBe(200);
    await stack.gateway.waitFor((r) => r.msg === OUTAGE, 15_000, 'the gateway to notice the outage');
    await nats.restart();

    const traceparent = await storedTraceparent('req-trace-buffered');
    expect(traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const trace = await waitUntil(
      () => {
        const spans = receiver.trace(traceId);
        return spans.some((s) => s.name === 'create usage.request-completed') && spans;
      },
      10_000,
      'the create span',
    );
    const server = trace.find((s) => s.kind === SPAN_KIND.SERVER && s.service === 'gateway')!;
    const created = trace.find((s) => s.name === 'create usage.request-completed')!;
    expect(created.parentSpanId).toBe(server.spanId);
    expect(traceparent.split('-')[2]).toBe(created.spanId);
    // The collector stores it from a batch, in a span of the same trace under the one the gateway made.
    const processed = await waitUntil(
      () => receiver.trace(traceId).find((s) => s.name === 'process usage.request-completed'),
      15_000,
      'the collector span',
    );
    expect(processed).toMatchObject({ kind: SPAN_KIND.CONSUMER, service: 'metrics-collector', parentSpanId: created.spanId });
  });

  it('an event spooled by a gateway that died is stored by the next one with the trace of its request', async () => {
    const outages = () => stack.gateway.records().filter((r) => r.msg === OUTAGE).length;
    const before = outages();
    await nats.kill();
    const traceId = randomBytes(16).toString('hex');
    expect((await post('req-trace-spooled', traceId)).status).toBe(200);
    await waitUntil(() => outages() > before || undefined, 15_000, 'the gateway to notice the outage');
    await stack.gateway.stop('SIGKILL');
    const spooled = fs.readdirSync(spoolDir).flatMap((f) =>
      fs
        .readFileSync(path.join(spoolDir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    );
    expect(spooled).toEqual([
      expect.objectContaining({ clientRequestId: 'req-trace-spooled', $traceparent: expect.stringContaining(traceId) }),
    ]);

    await nats.restart();
    const next = await stack.startGateway();
    await next.waitFor((r) => r.msg === 'usage events recovered from a spool', 10_000);
    expect(await storedTraceparent('req-trace-spooled')).toBe(spooled[0].$traceparent);
  });
});
