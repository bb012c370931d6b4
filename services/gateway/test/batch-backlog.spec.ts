import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JSONCodec } from 'nats';
import OpenAI, { toFile } from 'openai';
import type { BatchBacklogReported, MetricAggregated } from '@maas/contracts';
import { startService, StartedService } from '@maas/testing';
import { MODEL, Stack, waitUntil } from './support/stack';

/**
 * Batch backlog as demand that can wait: the gateway reports what its batches have not done yet,
 * per model and with the deadline; the metrics-collector passes it on in its aggregates, and counts
 * the batch requests that ran apart from interactive demand.
 */
describe('batch backlog: gateway → metrics-collector', () => {
  const fileDir = mkdtempSync(join(tmpdir(), 'maas-backlog-'));
  const stack = new Stack({
    GATEWAY_FILE_STORE_DIR: fileDir,
    GATEWAY_BATCH_MAX_IN_FLIGHT: '2',
    GATEWAY_BATCH_BACKLOG_INTERVAL: '500ms',
    GATEWAY_BATCH_SWEEP: '200ms',
  });
  let collector: StartedService | undefined;
  const reports: { at: number; body: BatchBacklogReported }[] = [];
  const aggregates: MetricAggregated[] = [];

  beforeAll(async () => {
    await stack.start();
    collector = await startService('metrics-collector', { ...stack.env, METRICS_INTERVAL_MS: '1s', METRICS_LATENESS_MS: '300ms' });
    const codec = JSONCodec<never>();
    stack.nc.subscribe(stack.subjects.subject('batch.backlog-reported'), {
      callback: (_e, m) => reports.push({ at: Date.now(), body: codec.decode(m.data) }),
    });
    stack.nc.subscribe(stack.subjects.subject('metric.aggregated'), { callback: (_e, m) => aggregates.push(codec.decode(m.data)) });
    await stack.startWorker();
  });

  afterAll(async () => {
    await collector?.stop();
    await stack.stop();
    rmSync(fileDir, { recursive: true, force: true });
  });

  it('reports the requests not done with their deadline, passes them to the aggregates, and clears them when the batch ends', async () => {
    const client = new OpenAI({
      apiKey: (await stack.createKey({ name: 'backlog' })).secret,
      baseURL: `${stack.gateway.url}/v1`,
      maxRetries: 0,
    });
    const n = 40;
    const lines = Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        custom_id: `r-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: MODEL, messages: [{ role: 'user', content: `Summarise paper ${i}.` }], max_tokens: 400, ignore_eos: true },
      }),
    );
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'in.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    // the API gives seconds, the report milliseconds
    const seconds = (iso: string | null | undefined) => Math.floor(Date.parse(iso ?? '') / 1000);

    // the gateway's report: the requests without a result, due at the batch's expiry
    const first = await waitUntil(() => reports.find((r) => r.body.models.some((m) => m.model === MODEL)), 10_000, 'a backlog report');
    const mine = first.body.models.find((m) => m.model === MODEL)!;
    expect(mine.batches).toBe(1);
    expect(seconds(mine.deadline)).toBe(batch.expires_at);
    expect(mine.requests).toBeGreaterThan(n - 6);
    expect(mine.requests).toBeLessThanOrEqual(n);
    expect(mine.inputTokens).toBeGreaterThan(0);

    // the collector's aggregate carries it, and the batch requests that finished are not interactive demand
    const carried = await waitUntil(
      () => aggregates.find((a) => a.model === MODEL && (a.batchBacklog ?? 0) > 0),
      10_000,
      'an aggregate with the backlog',
    );
    expect(seconds(carried.batchDeadline)).toBe(batch.expires_at);
    const ran = await waitUntil(
      () => aggregates.find((a) => a.model === MODEL && (a.batchRequestRate ?? 0) > 0),
      20_000,
      'an aggregate with batch requests done',
    );
    expect(ran.requestRate).toBe(0);
    expect(ran.inputTokensPerSecond).toBe(0);
    const later = reports[reports.length - 1].body.models.find((m) => m.model === MODEL)!;
    expect(later.requests).toBeLessThan(mine.requests);

    // cancelled: no backlog any more, said once, and the aggregates follow
    await client.batches.cancel(batch.id);
    const cleared = await waitUntil(
      () => reports.find((r) => r.at > Date.now() - 2000 && r.body.models.length === 0),
      15_000,
      'an empty backlog report',
    );
    await waitUntil(
      () =>
        aggregates.some(
          (a) => a.model === MODEL && Date.parse(a.intervalStart) > cleared.at && a.batchBacklog === 0 && a.batchDeadline === null,
        ),
      10_000,
      'an aggregate without backlog',
    );
    const count = reports.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(reports.slice(count).every((r) => r.body.models.length === 0)).toBe(true);
    expect(reports.length - count).toBe(0);
  }, 90_000);
});
