import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { MODEL, Stack, waitUntil } from './support/stack';

const lines = (n: number) =>
  Buffer.from(
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        custom_id: `r${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: MODEL, messages: [{ role: 'user', content: `Hi ${i}` }], max_tokens: 8 },
      }),
    ).join('\n') + '\n',
  );

/** `gateway.list-batches`: the portal's view of batches and their progress, answered from the gateway's tables. */
describe('gateway.list-batches', () => {
  const fileDir = mkdtempSync(join(tmpdir(), 'maas-batch-list-'));
  const stack = new Stack({ GATEWAY_FILE_STORE_DIR: fileDir, GATEWAY_BATCH_SWEEP: '200ms' });
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    await stack.start();
    await stack.startWorker();
    for (const [user, n] of [
      ['ada@example.org', 6],
      ['grace@example.org', 3],
    ] as const) {
      const client = new OpenAI({
        apiKey: (await stack.createKey({ userEmail: user })).secret,
        baseURL: `${stack.gateway.url}/v1`,
        maxRetries: 0,
      });
      const file = await client.files.create({ file: await toFile(lines(n), 'in.jsonl'), purpose: 'batch' });
      const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      ids[user] = batch.id;
      await waitUntil(async () => (await client.batches.retrieve(batch.id)).status === 'completed', 30_000, `batch of ${user}`);
    }
  });

  afterAll(async () => {
    await stack.stop();
    rmSync(fileDir, { recursive: true, force: true });
  });

  it('answers one user’s batches with their progress', async () => {
    const reply = await stack.bus.request('gateway.list-batches', { userEmail: 'ada@example.org' });
    expect(reply.batches).toHaveLength(1);
    const [b] = reply.batches;
    expect(b).toMatchObject({
      id: ids['ada@example.org'],
      userEmail: 'ada@example.org',
      endpoint: '/v1/chat/completions',
      status: 'completed',
      total: 6,
      completed: 6,
      failed: 0,
    });
    expect(Date.parse(b.expiresAt) - Date.parse(b.createdAt)).toBe(24 * 3600_000);
    expect(Date.parse(b.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(b.createdAt));
    expect((await stack.bus.request('gateway.list-batches', { userEmail: 'nobody@example.org' })).batches).toEqual([]);
  });

  it('answers everyone’s, newest first, when no user is named (administrators), bounded by limit', async () => {
    const all = await stack.bus.request('gateway.list-batches', {});
    expect(all.batches.map((b) => [b.id, b.userEmail, b.total])).toEqual([
      [ids['grace@example.org'], 'grace@example.org', 3],
      [ids['ada@example.org'], 'ada@example.org', 6],
    ]);
    expect((await stack.bus.request('gateway.list-batches', { limit: 1 })).batches.map((b) => b.id)).toEqual([ids['grace@example.org']]);
  });

  it('speaks plain JSON on its subject and refuses a malformed request naming the field', async () => {
    const raw = await stack.nc.request(
      stack.subjects.subject('gateway.list-batches'),
      new TextEncoder().encode('{"userEmail":"grace@example.org"}'),
      { timeout: 2000 },
    );
    expect(JSON.parse(new TextDecoder().decode(raw.data)).batches.map((b: { id: string }) => b.id)).toEqual([ids['grace@example.org']]);
    const refused = await stack.bus.request('gateway.list-batches', { limit: 0 }).catch((e) => e);
    // The bus validates before sending; a client without our validator gets the service's refusal.
    expect(refused).toBeInstanceOf(Error);
    expect(String(refused.message)).toMatch(/limit/);
    const rawBad = await stack.nc.request(stack.subjects.subject('gateway.list-batches'), new TextEncoder().encode('{"limit":0}'), {
      timeout: 2000,
    });
    expect(rawBad.headers?.get('Nats-Service-Error-Code')).toBe('400');
    expect(JSON.parse(new TextDecoder().decode(rawBad.data)).error.message).toMatch(/\/limit/);
  });
});
