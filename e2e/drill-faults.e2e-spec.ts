import { connect, headers as natsHeaders, NatsConnection } from 'nats';
import { MESSAGE_KINDS, MESSAGE_NAMES, subjectKeyOf } from '@maas/contracts';
import { startService, StartedService } from '@maas/testing';
import { chatBody, sleep, Stack, waitUntil, Worker } from '../services/gateway/test/support/stack';

/**
 * Standing drills (issue: nothing lost, nothing broken by one bad input), with the real services:
 * - garbage on every subject the platform speaks: nothing crashes, every malformed message is
 *   rejected (and counted), commands answer with an error instead of hanging, and the platform
 *   still serves and accounts a request afterwards;
 * - a worker SIGKILLed mid-stream under load: its streams end with an SSE error and a clean end, its
 *   non-streamed requests are retried on the other worker, and the ledger holds every request once.
 */
const FULL = process.env.MAAS_DRILL === 'full';

/** Payloads no schema accepts: not JSON, wrong JSON types, a deep nest, a large body, NUL and lone surrogates. */
function garbage(): Uint8Array[] {
  const enc = (s: string) => new TextEncoder().encode(s);
  const deep = '['.repeat(10_000) + ']'.repeat(10_000);
  return [
    new Uint8Array(0),
    new Uint8Array([0xff, 0xfe, 0x00, 0x01]),
    enc('not json'),
    enc('null'),
    enc('42'),
    enc('"a string"'),
    enc('[]'),
    enc('{}'),
    enc('{"workerId": 5, "model": ["x"]}'),
    enc('{"requestId":"\u0000","model":"\ud800"}'),
    enc(deep),
    enc(JSON.stringify({ filler: 'x'.repeat(512 * 1024) })),
  ];
}

/**
 * Ledger rows grouped by the id the client sent (the `x-request-id` header): the ledger keys rows on
 * its own id and keeps the client's beside it where that column exists.
 */
async function ledgerByClientId(stack: Stack, pattern: string): Promise<{ request_id: string; n: number; status: number }[]> {
  const hasClientId =
    (
      await stack.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'usage_records' AND column_name = 'client_request_id'",
      )
    )[0].n > 0;
  const id = hasClientId ? 'COALESCE(client_request_id, request_id)' : 'request_id';
  return stack.db.query(
    `SELECT ${id} AS request_id, count(*)::int AS n, max(status)::int AS status FROM usage_records WHERE ${id} LIKE $1 GROUP BY 1`,
    [pattern],
  );
}

describe('drill: garbage on every subject', () => {
  let stack: Stack;
  let collector: StartedService;
  let worker: Worker;
  let raw: NatsConnection;

  beforeAll(async () => {
    stack = new Stack();
    await stack.start();
    collector = await startService('metrics-collector', { ...stack.env, METRICS_INTERVAL_MS: '1s', METRICS_LATENESS_MS: '500ms' });
    worker = await stack.startWorker();
    raw = await connect({ servers: stack.natsUrl, name: 'garbage' });
  }, 180_000);

  afterAll(async () => {
    await raw?.close();
    await collector?.stop();
    await stack?.stop();
  });

  it('rejects and counts every malformed message, answers commands with errors, and keeps serving and accounting', async () => {
    const services = [stack.router, stack.keyRegistry, stack.gateway, collector];
    const payloads = garbage();
    let published = 0;
    let commandsAnswered = 0;
    let commandsTimedOut = 0;
    for (const name of MESSAGE_NAMES) {
      const key = subjectKeyOf(name) ? worker.workerId : undefined;
      const subject = stack.subjects.subject(name, key);
      for (const data of payloads) {
        if (MESSAGE_KINDS[name].kind === 'command') {
          // A command with garbage must be answered (an error reply), never left to time out.
          try {
            await raw.request(subject, data, { timeout: 3000 });
            commandsAnswered += 1;
          } catch (err) {
            if (/TIMEOUT/i.test(String((err as { code?: string }).code ?? err))) commandsTimedOut += 1;
            else commandsAnswered += 1; // "no responders" is an answer too: nobody serves it in this stack
          }
        } else {
          const h = natsHeaders();
          h.set('Nats-Msg-Id', `garbage-${published}`);
          raw.publish(subject, data, { headers: h });
        }
        published += 1;
      }
    }
    await raw.flush();
    await sleep(2000);

    // Every service is alive and healthy, and the platform still serves a request and accounts it once.
    for (const s of services) expect(s.child.exitCode).toBeNull();
    for (const s of services) expect((await fetch(`${s.url}/health`)).status).toBe(200);
    const { secret } = await stack.createKey();
    const res = await stack.post('/v1/chat/completions', secret, chatBody({ max_tokens: 4 }), { 'x-request-id': 'after-garbage' });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const rows = await waitUntil(
      async () => {
        const r = await ledgerByClientId(stack, 'after-garbage');
        return r.length > 0 ? r : undefined;
      },
      60_000,
      'the request after the garbage in the ledger',
    );
    expect(rows.map((r) => r.n)).toEqual([1]);

    // Malformed messages were rejected and counted by the services that receive them.
    const rejected = async (s: StartedService) => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      return text
        .split('\n')
        .filter((l) => l.includes('outcome="rejected"') && !l.startsWith('#'))
        .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    };
    const counts = await Promise.all(services.map(rejected));
    const warned = services.flatMap((s) => s.records()).filter((r) => r.msg === 'rejected malformed message');
    console.log(
      [
        `drill garbage: ${published} malformed messages on ${MESSAGE_NAMES.length} subjects (${payloads.length} payloads each)`,
        `  commands        answered ${commandsAnswered}, timed out ${commandsTimedOut}`,
        `  rejected        router ${counts[0]}, key-registry ${counts[1]}, gateway ${counts[2]}, metrics-collector ${counts[3]} (warnings logged: ${warned.length})`,
        `  afterwards      all ${services.length} services alive and healthy; a chat served and in the ledger once`,
      ].join('\n'),
    );
    expect(commandsTimedOut).toBe(0);
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // The router and the gateway both consume every worker event: each rejected every malformed one it received.
    const workerEvents = MESSAGE_NAMES.filter((n) => n.startsWith('worker.')).length * payloads.length;
    expect(counts[0]).toBeGreaterThanOrEqual(workerEvents);
    expect(counts[2]).toBeGreaterThanOrEqual(workerEvents);
  }, 300_000);
});

describe('drill: a worker SIGKILLed mid-stream under load', () => {
  const RATE = 10;
  const SECONDS = FULL ? 30 : 8;
  let stack: Stack;
  let collector: StartedService;
  let victim: Worker;
  let survivor: Worker;

  beforeAll(async () => {
    stack = new Stack();
    await stack.start();
    collector = await startService('metrics-collector', { ...stack.env });
    [victim, survivor] = [await stack.startWorker(), await stack.startWorker()];
  }, 180_000);

  afterAll(async () => {
    await collector?.stop();
    await stack?.stop();
  });

  it('ends the streams on the lost worker cleanly, retries its other requests, and bills every request once', async () => {
    const { secret } = await stack.createKey();
    type Result = { stream: boolean; status: number; sseError: boolean; done: boolean; ms: number };
    const results = new Map<string, Result>();
    const total = RATE * SECONDS;
    const started = Date.now();
    const inFlight: Promise<void>[] = [];
    let killedAt = 0;
    let runningAtKill = [0, 0];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / RATE;
      if (due > Date.now()) await sleep(due - Date.now());
      if (i === Math.floor(total / 2)) {
        // the worker with more requests running is the one killed, so the drill catches streams mid-way whatever the routing did
        const running = await Promise.all([victim, survivor].map((w) => runningRequests(w.url)));
        if (running[1] > running[0]) [victim, survivor] = [survivor, victim];
        runningAtKill = running[1] > running[0] ? [running[1], running[0]] : running;
        killedAt = Date.now();
        victim.child.kill('SIGKILL');
      }
      const id = `drill-kill-${i}`;
      const stream = i % 2 === 0;
      const sentAt = Date.now();
      inFlight.push(
        stack
          .post(
            '/v1/chat/completions',
            secret,
            chatBody(
              stream ? { stream, max_tokens: 800, ignore_eos: true } : { max_tokens: 48 },
            ) /* streams last seconds: some are mid-way at the kill */,
            { 'x-request-id': id },
          )
          .then(
            async (res) => {
              const text = await res.text();
              results.set(id, {
                stream,
                status: res.status,
                sseError: stream && /"error"\s*:/.test(text),
                done: !stream || text.includes('data: [DONE]') || /"error"\s*:/.test(text),
                ms: Date.now() - sentAt,
              });
            },
            () => {
              results.set(id, { stream, status: 0, sseError: false, done: false, ms: Date.now() - sentAt });
            },
          ),
      );
    }
    await Promise.all(inFlight);

    const all = [...results.keys()];
    const ok = [...results].filter(([, r]) => r.status === 200 && !r.sseError).map(([id]) => id);
    const cutStreams = [...results.values()].filter((r) => r.sseError);
    const failedPlain = [...results.values()].filter((r) => !r.stream && r.status !== 200);
    const hung = [...results.values()].filter((r) => !r.done);
    const rows = await waitUntil(
      async () => {
        const r = await ledgerByClientId(stack, 'drill-kill-%');
        return r.length >= all.length ? r : undefined;
      },
      120_000,
      'every request in the ledger',
    );
    const byId = new Map(rows.map((r) => [r.request_id, r]));
    const missing = all.filter((id) => !byId.has(id));
    const duplicates = rows.reduce((n, r) => n + r.n - 1, 0);
    const okNotBilledOk = ok.filter((id) => byId.get(id)?.status !== 200);

    console.log(
      [
        `drill worker-kill: ${total} requests at ${RATE} req/s over ${SECONDS} s (half streamed), one of two workers SIGKILLed at ${((killedAt - started) / 1000).toFixed(1)} s (running there ${runningAtKill[0]}, on the other ${runningAtKill[1]})`,
        `  requests        succeeded ${ok.length}, streams cut with an SSE error ${cutStreams.length}, non-streamed failed ${failedPlain.length}, hung ${hung.length}`,
        `  ledger          rows ${rows.length} for ${all.length} requests, missing ${missing.length}, duplicates ${duplicates}, successes not billed as 200 ${okNotBilledOk.length}`,
        `  survivor        ${survivor.workerId} still serving: ${survivor.child.exitCode === null}`,
      ].join('\n'),
    );
    expect(hung).toEqual([]);
    expect(cutStreams.length).toBeGreaterThan(0); // the drill did catch streams mid-way
    expect(failedPlain).toEqual([]); // non-streamed requests on the lost worker were retried on the other
    expect(ok.length + cutStreams.length).toBe(total);
    expect(missing).toEqual([]);
    expect(duplicates).toBe(0);
    expect(okNotBilledOk).toEqual([]);
    expect(survivor.child.exitCode).toBeNull();
  }, 300_000);
});

/** The runtime's own count of requests running (vLLM's gauge, which the simulator exports too); 0 when it cannot be read. */
async function runningRequests(url: string): Promise<number> {
  const text = await fetch(`${url}/metrics`)
    .then((r) => (r.ok ? r.text() : ''))
    .catch(() => '');
  return Number(/^vllm:num_requests_running(?:\{[^}]*\})? (\d+(?:\.\d+)?)/m.exec(text)?.[1] ?? 0);
}
