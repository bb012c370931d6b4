import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JSONCodec } from 'nats';
import OpenAI, { toFile } from 'openai';
import type { BatchBacklogReported, ModelCataloguePublished, ModelDemandPending } from '@maas/contracts';
import { chatBody, Stack, waitUntil } from './support/stack';

const COLD = 'org/cold-model';
const BOOT_SECONDS = 40;

interface Listed {
  data: { id: string; metadata: { state: string; capabilities: string[]; ready_workers: number } }[];
}

/**
 * A model the vm-scaler manages but no worker serves: listed, its requests held as pending demand and
 * answered 503 with the start ETA after the hold, its batches accepted as backlog. The catalogue is
 * announced here as the vm-scaler announces it.
 */
describe('gateway: catalogue models with no worker', () => {
  const fileDir = mkdtempSync(join(tmpdir(), 'maas-catalogue-'));
  const stack = new Stack({ GATEWAY_HOLD_TIMEOUT: '1500ms', GATEWAY_FILE_STORE_DIR: fileDir, GATEWAY_BATCH_BACKLOG_INTERVAL: '500ms' });
  const pending: { at: number; body: ModelDemandPending }[] = [];
  const backlog: BatchBacklogReported[] = [];
  let key = '';
  const catalogue: ModelCataloguePublished = {
    publishedAt: new Date().toISOString(),
    models: [{ model: COLD, minReplicas: 0, maxReplicas: 2, bootSeconds: BOOT_SECONDS }],
  };
  const listed = async () =>
    ((await (await fetch(stack.url('/v1/models'), { headers: { authorization: `Bearer ${key}` } })).json()) as Listed).data.find(
      (m) => m.id === COLD,
    );

  beforeAll(async () => {
    await stack.start();
    const codec = JSONCodec<never>();
    stack.nc.subscribe(stack.subjects.subject('model.demand-pending'), {
      callback: (_e, m) => pending.push({ at: Date.now(), body: codec.decode(m.data) }),
    });
    stack.nc.subscribe(stack.subjects.subject('batch.backlog-reported'), { callback: (_e, m) => backlog.push(codec.decode(m.data)) });
    key = (await stack.createKey({ name: 'catalogue' })).secret;
    // announced until the gateway has it, as the vm-scaler re-announces every 2 s
    await waitUntil(
      async () => {
        stack.bus.publish('model.catalogue-published', catalogue);
        return (await listed()) !== undefined;
      },
      15_000,
      'the catalogue model listed',
    );
  });

  afterAll(async () => {
    await stack.stop();
    rmSync(fileDir, { recursive: true, force: true });
  });

  it('lists the model scaled to zero, in OpenAI’s shape', async () => {
    expect(await listed()).toMatchObject({
      id: COLD,
      object: 'model',
      owned_by: 'org',
      metadata: { state: 'scaled_to_zero', capabilities: [], ready_workers: 0 },
    });
  });

  it('holds a chat as pending demand, reported at once, and answers 503 with Retry-After and the ETA after the hold', async () => {
    const sentAt = Date.now();
    const res = await stack.post('/v1/chat/completions', key, chatBody({ model: COLD }));
    const answeredAt = Date.now();
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status).toBe(503);
    expect(body.error.code).toBe('no_capacity');
    expect(body.error.message).toContain(`takes about ${BOOT_SECONDS} s to start`);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(BOOT_SECONDS - Math.ceil((answeredAt - sentAt) / 1000));
    expect(retryAfter).toBeLessThan(BOOT_SECONDS);
    expect(body.error.message).toContain(`retry in ${retryAfter} s`);
    // reported while it was held, long before the hold ended; and no longer held once answered
    const first = pending.find((p) => p.at >= sentAt && p.body.models.some((m) => m.model === COLD && m.held === 1));
    expect(first).toBeDefined();
    expect(first!.at).toBeLessThan(answeredAt - 1000);
    await waitUntil(() => pending.some((p) => p.at > answeredAt && p.body.models.length === 0), 5000, 'a report with nothing held');
  });

  it('accepts a batch for it and counts it as backlog', async () => {
    const client = new OpenAI({ apiKey: key, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0 });
    const lines = Array.from({ length: 3 }, (_, i) =>
      JSON.stringify({ custom_id: `c-${i}`, method: 'POST', url: '/v1/chat/completions', body: chatBody({ model: COLD }) }),
    );
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'in.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const report = await waitUntil(
      () => backlog.find((r) => r.models.some((m) => m.model === COLD)),
      15_000,
      'a backlog report for the catalogue model',
    );
    expect(report.models.find((m) => m.model === COLD)).toMatchObject({ requests: 3, batches: 1 });
    expect((await client.batches.retrieve(batch.id)).status).toMatch(/^(validating|in_progress)$/);
    await client.batches.cancel(batch.id);
  });

  it('answers 404 for a model outside the catalogue that no worker serves', async () => {
    const res = await stack.post('/v1/chat/completions', key, chatBody({ model: 'org/unmanaged' }));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
  });
});
