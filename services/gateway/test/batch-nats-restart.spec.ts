import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { PrivateNatsServer, startPrivateNatsServer } from '@maas/testing';
import { MODEL, sleep, Stack, waitUntil } from './support/stack';

type Line = { custom_id: string; response: { status_code: number } | null; error: unknown };

/**
 * NATS crashes mid-batch (SIGKILL) and comes back on the same port and JetStream store a few
 * seconds later: the gateway, key-registry, router and worker reconnect, and the batch completes
 * with every request exactly once.
 */
describe('a batch across a NATS crash and restart', () => {
  let nats: PrivateNatsServer;
  let stack: Stack;
  const fileDir = mkdtempSync(join(tmpdir(), 'maas-batch-nats-'));

  beforeAll(async () => {
    nats = await startPrivateNatsServer();
    stack = new Stack(
      { GATEWAY_FILE_STORE_DIR: fileDir, GATEWAY_BATCH_ACK_WAIT: '3s', GATEWAY_BATCH_SWEEP: '200ms', GATEWAY_BATCH_MAX_IN_FLIGHT: '8' },
      nats.url,
    );
    await stack.start();
    await stack.startWorker();
  });

  afterAll(async () => {
    await stack?.stop();
    await nats?.stop();
    rmSync(fileDir, { recursive: true, force: true });
  });

  it('completes with every custom_id exactly once', async () => {
    const n = 150;
    const client = new OpenAI({
      apiKey: (await stack.createKey({ name: 'nats-restart' })).secret,
      baseURL: `${stack.gateway.url}/v1`,
      maxRetries: 0,
      timeout: 30_000,
    });
    const lines = Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        custom_id: `req-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: MODEL, messages: [{ role: 'user', content: `Summarise paper ${i}.` }], max_tokens: 48 },
      }),
    );
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'input.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const progress = async () => (await client.batches.retrieve(batch.id)).request_counts!.completed;
    await waitUntil(async () => (await progress()) >= 15, 30_000, '15 requests done');

    await nats.kill('SIGKILL');
    await stack.gateway.waitFor(
      (r) => r.msg === 'nats connection status' && r.status === 'disconnect',
      5000,
      'the gateway seeing NATS gone',
    );
    const atCrash = await progress();
    // More left than the executor holds in memory (8 in flight): the rest must come back from the restarted JetStream.
    expect(atCrash).toBeLessThan(n - 8 * 3);
    await sleep(3000);
    await nats.restart();
    await stack.gateway.waitFor((r) => r.msg === 'nats connection status' && r.status === 'reconnect', 15_000, 'the gateway reconnecting');

    const done = await waitUntil(
      async () => {
        const b = await client.batches.retrieve(batch.id);
        return b.status === 'completed' ? b : undefined;
      },
      45_000,
      'the batch to complete',
    );
    expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 });
    expect(done.error_file_id).toBeNull();
    const out: Line[] = (await (await client.files.content(done.output_file_id!)).text())
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l));
    expect(out).toHaveLength(n);
    expect(out.map((l) => l.custom_id).sort()).toEqual(Array.from({ length: n }, (_, i) => `req-${i}`).sort());
    expect(out.every((l) => l.response?.status_code === 200 && l.error === null)).toBe(true);
  });
});
