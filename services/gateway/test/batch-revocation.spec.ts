import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { MODEL, Stack, waitUntil } from './support/stack';

/**
 * A batch runs on its key's rights: revoking the key stops its batches, and lines dispatched past
 * the key's expiry are not sent (each gets a `key_expired` error) rather than running on a stand-in key.
 */
describe('batches end with their key', () => {
  let stack: Stack;
  const fileDir = mkdtempSync(join(tmpdir(), 'maas-batch-revocation-'));
  const n = 24;

  beforeAll(async () => {
    stack = new Stack({ GATEWAY_FILE_STORE_DIR: fileDir, GATEWAY_BATCH_SWEEP: '200ms', GATEWAY_BATCH_CONCURRENCY: `${MODEL}=1` });
    await stack.start();
    await stack.startWorker(['--sim-time-scale', '0.5']);
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(fileDir, { recursive: true, force: true });
  });

  async function startBatch(secret: string): Promise<string> {
    const client = new OpenAI({ apiKey: secret, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0, timeout: 30_000 });
    const lines = Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        custom_id: `req-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: MODEL, messages: [{ role: 'user', content: `Summarise paper ${i}.` }], max_tokens: 200, ignore_eos: true },
      }),
    );
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'input.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    return batch.id;
  }

  const results = (batchId: string) =>
    stack.db.query<{ status_code: number | null; code: string | null }>(
      "SELECT status_code, error->>'code' AS code FROM batch_results WHERE batch_id = $1",
      [batchId],
    );
  const statusOf = async (batchId: string) =>
    (await stack.db.query<{ status: string }>('SELECT status FROM batches WHERE id = $1', [batchId]))[0].status;

  it('cancels the running batches of a revoked key', async () => {
    const { secret, keyId } = await stack.createKey({ name: 'revoked-mid-batch' });
    const batchId = await startBatch(secret);
    await waitUntil(async () => (await results(batchId)).length >= 1, 60_000, 'the first batch result');
    await stack.bus.request('key-registry.revoke', { keyId });
    await waitUntil(async () => (await statusOf(batchId)) === 'cancelled', 30_000, 'the batch to be cancelled');
    expect((await results(batchId)).filter((r) => r.status_code === 200).length).toBeLessThan(n);
  });

  it('sends no line past the key’s expiry', async () => {
    const expiresAt = new Date(Date.now() + 3_600_000);
    const { secret } = await stack.createKey({ name: 'expiring', expiresAt: expiresAt.toISOString() });
    const batchId = await startBatch(secret);
    const [kept] = await stack.db.query<{ key_expires_at: Date }>('SELECT key_expires_at FROM batches WHERE id = $1', [batchId]);
    expect(kept.key_expires_at.getTime()).toBe(expiresAt.getTime());
    // The key's expiry comes while the batch runs (set in the row: no test waits an hour).
    await waitUntil(async () => (await results(batchId)).length >= 1, 60_000, 'the first batch result');
    await stack.db.query('UPDATE batches SET key_expires_at = now() WHERE id = $1', [batchId]);
    const done = await waitUntil(
      async () => {
        const status = await statusOf(batchId);
        return ['completed', 'failed', 'expired', 'cancelled'].includes(status) ? status : undefined;
      },
      120_000,
      'the batch to end',
    );
    expect(done).toBe('completed');
    const rows = await results(batchId);
    expect(rows).toHaveLength(n);
    const expired = rows.filter((r) => r.code === 'key_expired').length;
    expect(expired).toBeGreaterThan(0);
    expect(rows.filter((r) => r.status_code === 200).length + expired).toBe(n);
  });
});
