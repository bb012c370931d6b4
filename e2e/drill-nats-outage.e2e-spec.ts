import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PrivateNatsServer, startPrivateNatsServer, startService, StartedService } from '@maas/testing';
import { chatBody, MODEL, sleep, Stack, waitUntil, Worker } from '../services/gateway/test/support/stack';

/**
 * Drill: the NATS server is SIGKILLed under 20 requests a second and restarted after a while, with
 * the real services (router, key-registry, gateway, metrics-collector, vm-scaler) and a simulated
 * worker (and a second, idle gateway). Each gateway keeps serving from the workers it last saw, `/health` says "degraded" rather
 * than 503, nobody expires a worker for a silence they could not hear, and afterwards every
 * successful request is in the ledger exactly once and every scaling decision in PostgreSQL is in
 * the SCALING stream. `npm run drill` runs it with a 30 s outage (MAAS_DRILL=full); inside
 * `npm test` the outage is 5 s, as in the drill that found workers expiring.
 */
const OUTAGE_SECONDS = Number(process.env.MAAS_DRILL_OUTAGE_SECONDS ?? (process.env.MAAS_DRILL === 'full' ? 30 : 5));
const RATE = 20;
const BEFORE_MS = 4000;
const AFTER_MS = 6000;
/** Requests sent this soon after the restart are the ones that used to wait for the worker list. */
const JUST_AFTER_MS = 3500;

const spec = {
  replicas: { stableWindowSeconds: 4, panicWindowSeconds: 1, scaleToZeroGracePeriodSeconds: 1 },
  capacity: {
    vmTypes: [{ name: 'sim-gpu', accelerator: 'gpu', costPerHour: 2, bootSeconds: 1, slots: { [MODEL]: 1 }, maxCount: null }],
    maxVms: 3,
    bootMarginSeconds: 0,
    forecastBand: 'upper',
    scaleDownDelaySeconds: 3,
    scaleDownHysteresis: 0,
    minDrainSeconds: 0.5,
  },
  models: {
    [MODEL]: { metric: 'rps', replicaRequestsPerSecond: 10, targetUtilization: 1, maxUtilization: 1, minReplicas: 1, maxReplicas: 3 },
  },
};

/** Sum of a metric's samples in a Prometheus text exposition whose line starts with `prefix` (0 when absent). */
const sampleSum = (text: string, prefix: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
const HELD = 'maas_gateway_held_requests_total{';
const READY = 'maas_gateway_replica_workers{state="ready"}';

describe(`drill: NATS SIGKILLed for ${OUTAGE_SECONDS} s under ${RATE} req/s, then restarted`, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drill-nats-'));
  let nats: PrivateNatsServer;
  let stack: Stack;
  let worker: Worker;
  let collector: StartedService;
  let scaler: StartedService;
  /** A second gateway taking no load: every gateway must ride through, not only the busy one. */
  let idleGateway: StartedService;
  let key: string;

  beforeAll(async () => {
    nats = await startPrivateNatsServer();
    stack = new Stack({}, nats.url);
    await stack.start();
    worker = await stack.startWorker();
    idleGateway = await stack.startGateway();
    await idleGateway.waitFor(
      (r) => r.msg === 'registry snapshot loaded' && r.workers === 1,
      30_000,
      'the second gateway learning the worker',
    );
    key = (await stack.createKey()).secret;
    fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(spec));
    [collector, scaler] = await Promise.all([
      startService('metrics-collector', { ...stack.env, METRICS_INTERVAL_MS: '1s', METRICS_LATENESS_MS: '500ms' }),
      startService('vm-scaler', {
        ...stack.env,
        SCALING_PROVIDER: 'simulated',
        SCALING_SPEC_FILE: path.join(dir, 'spec.json'),
        SCALING_TICK_MS: '1s',
        SCALING_METRIC_MAX_AGE_MS: '5s',
      }),
    ]);
    await scaler.waitFor((r) => r.msg === 'scaling loop started', 30_000, 'the scaling loop');
  }, 180_000);

  afterAll(async () => {
    await Promise.all([collector?.stop(), scaler?.stop()]);
    await stack?.stop();
    await nats?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(
    'serves through the outage from the workers last seen; afterwards ledger and SCALING stream are complete',
    async () => {
      const heldBefore = sampleSum(await (await fetch(stack.url('/metrics'))).text(), HELD);
      const results = new Map<string, { status: number; sentAt: number; ms: number }>();
      const load = (async () => {
        const inFlight: Promise<void>[] = [];
        const started = Date.now();
        const total = Math.round(((BEFORE_MS + OUTAGE_SECONDS * 1000 + AFTER_MS) / 1000) * RATE);
        for (let i = 0; i < total; i++) {
          const due = started + (i * 1000) / RATE;
          if (due > Date.now()) await sleep(due - Date.now());
          const id = `drill-nats-${i}`;
          const sentAt = Date.now();
          inFlight.push(
            stack.post('/v1/chat/completions', key, chatBody({ stream: i % 2 === 0, max_tokens: 4 }), { 'x-request-id': id }).then(
              async (res) => {
                await res.arrayBuffer();
                results.set(id, { status: res.status, sentAt, ms: Date.now() - sentAt });
              },
              () => {
                results.set(id, { status: 0, sentAt, ms: Date.now() - sentAt });
              },
            ),
          );
        }
        await Promise.all(inFlight);
        return total;
      })();

      // Every /health answer of both gateways during the run and the ready workers in their lists, 4 times a second.
      const health: { gateway: string; at: number; status: number; degraded: boolean; readyWorkers: number }[] = [];
      let polling = true;
      const poller = (async () => {
        while (polling) {
          await Promise.all(
            [stack.gateway, idleGateway].map(async (g) => {
              const at = Date.now();
              const res = await fetch(`${g.url}/health`).catch(() => undefined);
              const body = (await res?.json().catch(() => undefined)) as { info?: { nats?: { degraded?: string } } } | undefined;
              const metrics = await fetch(`${g.url}/metrics`).then(
                (r) => r.text(),
                () => '',
              );
              health.push({
                gateway: g.url,
                at,
                status: res?.status ?? 0,
                degraded: body?.info?.nats?.degraded === 'bus down, serving',
                readyWorkers: sampleSum(metrics, READY),
              });
            }),
          );
          await sleep(250);
        }
      })();

      await sleep(BEFORE_MS);
      const killedAt = Date.now();
      await nats.kill();
      await stack.gateway.waitFor(
        (r) => r.msg === 'bus down: holding the workers last seen, serving from them',
        20_000,
        'the gateway holding its workers',
      );
      await sleep(killedAt + OUTAGE_SECONDS * 1000 - Date.now());
      await nats.restart();
      const restartedAt = Date.now();
      const sent = await load;
      polling = false;
      await poller;

      const since = (r: Record<string, unknown>) => Date.parse(String(r.ts)) - restartedAt;
      const after = (r: Record<string, unknown>) => Date.parse(String(r.ts)) >= restartedAt;
      await idleGateway.waitFor(
        (r) => r.msg === 'bus back: resynchronising the worker list with router',
        30_000,
        'the second gateway reconnecting',
      );
      const gatewayBack = await stack.gateway.waitFor(
        (r) => r.msg === 'bus back: resynchronising the worker list with router',
        30_000,
        'the gateway reconnecting',
      );
      const resynced = await stack.gateway.waitFor(
        (r) => r.msg === 'registry snapshot loaded' && after(r),
        30_000,
        'the gateway asking router again',
      );
      const reannounced = await worker.waitFor((r) => r.msg === 'nats reconnected; re-announcing', 30_000, 'the worker re-announcing');
      const scalingCaughtUp = await scaler.waitFor(
        (r) => r.msg === 'scaling events caught up with JetStream' && after(r),
        60_000,
        'the scaling outbox catching up',
      );

      const ok = [...results].filter(([, r]) => r.status === 200).map(([id]) => id);
      const failed = [...results].filter(([, r]) => r.status !== 200);
      const ledgerRows = async () =>
        stack.db.query<{ request_id: string; n: number }>(
          'SELECT client_request_id AS request_id, count(*)::int AS n FROM usage_records WHERE client_request_id LIKE $1 GROUP BY client_request_id',
          ['drill-nats-%'],
        );
      const rows = await waitUntil(
        async () => {
          const r = await ledgerRows();
          return r.length >= ok.length ? r : undefined;
        },
        120_000,
        'every successful request in the ledger',
      );
      const ledgerCompleteMs = Date.now() - restartedAt;
      const inLedger = new Set(rows.map((r) => r.request_id));
      const missing = ok.filter((id) => !inLedger.has(id));
      const duplicates = rows.reduce((n, r) => n + r.n - 1, 0);

      // Every decision in PostgreSQL is in the SCALING stream, once (the scaler stopped deciding first).
      await scaler.stop();
      const decisions = (
        await stack.db.query<{ decision_id: string; decided_at: Date }>('SELECT decision_id, decided_at FROM scaling_decisions')
      ).map((d) => d.decision_id);
      const decisionsDuring = (
        await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM scaling_decisions WHERE decided_at BETWEEN $1 AND $2', [
          new Date(killedAt),
          new Date(restartedAt),
        ])
      )[0].n;
      const jsm = await stack.nc.jetstreamManager();
      const streamName = stack.subjects.stream('scaling');
      const info = await jsm.streams.info(streamName);
      const inStream = new Map<string, number>();
      for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(streamName, { seq });
        if (m.subject !== stack.subjects.subject('scaling.decided')) continue;
        const id = (JSON.parse(new TextDecoder().decode(m.data)) as { decisionId: string }).decisionId;
        inStream.set(id, (inStream.get(id) ?? 0) + 1);
      }
      const decisionsMissing = decisions.filter((id) => !inStream.has(id));
      const decisionsDuplicated = [...inStream.values()].filter((n) => n > 1).length;

      const heldAfter = sampleSum(await (await fetch(stack.url('/metrics'))).text(), HELD);
      const justAfter = [...results.values()].filter((r) => r.sentAt >= restartedAt && r.sentAt < restartedAt + JUST_AFTER_MS);
      const duringOutage = health.filter((h) => h.at > killedAt + 500 && h.at < restartedAt);
      const expiredLocally = [stack.gateway, idleGateway]
        .flatMap((g) => g.records())
        .filter((r) => r.msg === 'worker expired locally (no heartbeat)');
      const removedByRouter = stack.router.records().filter((r) => r.msg === 'worker removed');
      const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

      console.log(
        [
          `drill nats-outage ${OUTAGE_SECONDS} s @ ${RATE} req/s (SIGKILL, restart; the load ran ${AFTER_MS / 1000} s past it)`,
          `  requests        sent ${sent}, succeeded ${ok.length}, failed ${failed.length} (held for capacity: ${heldAfter - heldBefore})`,
          `  ledger          rows ${rows.length}, missing ${missing.length}, duplicates ${duplicates}, complete ${s(ledgerCompleteMs)} after the restart`,
          `  scaling         decisions ${decisions.length} (${decisionsDuring} during the outage), in the stream ${inStream.size}, missing ${decisionsMissing.length}, duplicated ${decisionsDuplicated}; outbox caught up ${s(since(scalingCaughtUp))} after the restart`,
          `  2 gateways      /health during the outage: ${duringOutage.filter((h) => h.status === 200 && h.degraded).length} of ${duringOutage.length} answers 200 degraded; ${health.filter((h) => h.status !== 200).length} non-200 in the whole run`,
          `  recovery        gateway link back ${s(since(gatewayBack))}, worker list resynchronised ${s(since(resynced))}, worker re-announced ${s(since(reannounced) + Number(reannounced.delayMs))} after the restart`,
          `  just after      ${justAfter.length} requests sent in the ${JUST_AFTER_MS / 1000} s after the restart: slowest ${Math.max(0, ...justAfter.map((r) => r.ms))} ms`,
          `  workers         expired by a gateway ${expiredLocally.length}, by the router ${removedByRouter.length}; fewest ready in a gateway's list ${Math.min(...health.map((h) => h.readyWorkers))}`,
        ].join('\n'),
      );

      expect(failed).toEqual([]); // no request failed, let alone because the worker list emptied
      expect(health.filter((h) => h.readyWorkers < 1)).toEqual([]); // no gateway's list ever emptied
      expect(expiredLocally).toEqual([]);
      expect(removedByRouter).toEqual([]);
      expect(missing).toEqual([]);
      expect(duplicates).toBe(0);
      expect(rows.length).toBe(ok.length);
      expect(new Set(duringOutage.map((h) => h.gateway)).size).toBe(2);
      expect(duringOutage.filter((h) => !(h.status === 200 && h.degraded))).toEqual([]);
      expect(health.filter((h) => h.status !== 200)).toEqual([]);
      expect(decisionsDuring).toBeGreaterThan(0);
      expect(decisionsMissing).toEqual([]);
      expect(decisionsDuplicated).toBe(0);
      expect(since(resynced)).toBeLessThan(15_000);
      expect(collector.child.exitCode).toBeNull();
    },
    (OUTAGE_SECONDS + 300) * 1000,
  );
});
