import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { MODEL, sleep, Stack, waitUntil } from './support/stack';

/**
 * A worker started for a batch backlog (`maas worker --pool batch`) registers in the batch pool: the gateway sends it batch work
 * and no interactive request while the model's interactive worker is there.
 */
describe('batch pool', () => {
  let stack: Stack;
  let interactiveWorker: string;
  let poolWorker: string;
  const fileDir = mkdtempSync(join(tmpdir(), 'maas-batch-pool-'));

  beforeAll(async () => {
    stack = new Stack({ GATEWAY_FILE_STORE_DIR: fileDir, GATEWAY_BATCH_SWEEP: '200ms' });
    await stack.start();
    interactiveWorker = (await stack.startWorker()).workerId;
    poolWorker = (await stack.startWorker(['--pool', 'batch', '--capacity', '32'])).workerId;
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(fileDir, { recursive: true, force: true });
  });

  it('runs batch work there and keeps every interactive request on the interactive worker', async () => {
    const { secret } = await stack.createKey({ name: 'pool' });
    const client = new OpenAI({ apiKey: secret, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0, timeout: 30_000 });
    const interactiveIds: string[] = [];
    const ask = async (i: number) => {
      const res = await stack.post('/v1/chat/completions', secret, {
        model: MODEL,
        messages: [{ role: 'user', content: `Hi ${i}` }],
        max_tokens: 40,
      });
      expect(res.status).toBe(200);
      interactiveIds.push(res.headers.get('x-request-id')!);
    };
    // Before any batch work, eight at once: load alone would spread them over both workers.
    await Promise.all(Array.from({ length: 8 }, (_, i) => ask(i)));
    const n = 16;
    const lines = Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        custom_id: `p-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: MODEL, messages: [{ role: 'user', content: `Translate page ${i}.` }], max_tokens: 200, ignore_eos: true },
      }),
    );
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'input.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    for (let i = 8; i < 16; i++) {
      await ask(i);
      await sleep(150);
    }
    await waitUntil(
      async () => ((await client.batches.retrieve(batch.id)).status === 'completed' ? true : undefined),
      60_000,
      'the batch to complete',
    );
    const events = await waitUntil(
      async () => {
        const all = await stack.usageEvents();
        return all.filter((e) => e.kind === 'batch').length >= n && interactiveIds.every((id) => all.some((e) => e.requestId === id))
          ? all
          : undefined;
      },
      10_000,
      'the usage events',
    );
    const interactive = events.filter((e) => interactiveIds.includes(e.requestId));
    expect(new Set(interactive.map((e) => e.workerId))).toEqual(new Set([interactiveWorker]));
    const onPool = events.filter((e) => e.kind === 'batch' && e.workerId === poolWorker).length;
    expect(onPool).toBeGreaterThan(0);
  });
});
