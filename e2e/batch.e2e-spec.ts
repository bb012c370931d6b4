import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { ConflictError, NotFoundError, RateLimitError, toFile } from 'openai';
import { Client } from 'pg';
import { startService } from '@maas/testing';
import { MODEL, Stack, waitUntil } from '../services/gateway/test/support/stack';

type Line = {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: Record<string, unknown> } | null;
  error: unknown;
};

const chatLine = (i: number, over: Record<string, unknown> = {}) =>
  JSON.stringify({
    custom_id: `req-${i}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: MODEL, messages: [{ role: 'user', content: `Summarise paper ${i}.` }], max_tokens: 16, ...over },
  });
const jsonl = (lines: string[]) => Buffer.from(lines.join('\n') + '\n');
const parseLines = (text: string): Line[] =>
  text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));

/**
 * OpenAI's batch API as a user's script sees it, through the official SDK: files, batches, the
 * output format, ownership, cancellation, validation, and an executor restart mid-batch.
 */
describe('batch API through the OpenAI SDK', () => {
  const fileDir = mkdtempSync(join(tmpdir(), 'maas-batch-'));
  const gatewayEnv = {
    GATEWAY_FILE_STORE_DIR: fileDir,
    GATEWAY_BATCH_ACK_WAIT: '3s',
    GATEWAY_BATCH_SWEEP: '200ms',
    GATEWAY_BATCH_MAX_IN_FLIGHT: '8',
    GATEWAY_SHUTDOWN_GRACE: '1s',
    GATEWAY_BATCH_MAX_PENDING_TOKENS: '20000',
  };
  const stack = new Stack(gatewayEnv);
  let client: OpenAI;
  let other: OpenAI;
  const sdk = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0, timeout: 30_000 });

  beforeAll(async () => {
    await stack.start();
    await stack.startWorker();
    client = sdk((await stack.createKey({ name: 'batch' })).secret);
    other = sdk((await stack.createKey({ name: 'other', userEmail: 'grace@example.org' })).secret);
  });

  afterAll(async () => {
    await stack.stop();
    rmSync(fileDir, { recursive: true, force: true });
  });

  const create = async (c: OpenAI, lines: string[]) => {
    const file = await c.files.create({ file: await toFile(jsonl(lines), 'input.jsonl'), purpose: 'batch' });
    return c.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { project: 'e2e' },
    });
  };
  const poll = (c: OpenAI, id: string, done: (b: OpenAI.Batch) => boolean, timeoutMs = 60_000) =>
    waitUntil(
      async () => {
        const b = await c.batches.retrieve(id);
        return done(b) ? b : undefined;
      },
      timeoutMs,
      `batch ${id}`,
    );

  it('uploads, runs to completed and returns every custom_id once in OpenAI’s line format', async () => {
    const n = 40;
    const lines = Array.from({ length: n }, (_, i) => chatLine(i));
    const file = await client.files.create({ file: await toFile(jsonl(lines), 'input.jsonl'), purpose: 'batch' });
    expect(file).toMatchObject({ object: 'file', purpose: 'batch', filename: 'input.jsonl', bytes: jsonl(lines).length });
    expect(await client.files.retrieve(file.id)).toMatchObject({ id: file.id });
    expect(Buffer.from(await (await client.files.content(file.id)).arrayBuffer()).equals(jsonl(lines))).toBe(true);
    const listed: string[] = [];
    for await (const f of client.files.list()) listed.push(f.id);
    expect(listed).toContain(file.id);

    const batch = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { project: 'e2e' },
    });
    expect(batch).toMatchObject({ object: 'batch', status: 'in_progress', request_counts: { total: n }, metadata: { project: 'e2e' } });
    const done = await poll(client, batch.id, (b) => b.status === 'completed');
    expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 });
    expect(done.completed_at).toBeGreaterThanOrEqual(done.created_at);
    expect(done.error_file_id).toBeNull();

    const out = parseLines(await (await client.files.content(done.output_file_id!)).text());
    expect(out).toHaveLength(n);
    expect(new Set(out.map((l) => l.custom_id)).size).toBe(n);
    for (const l of out) {
      expect(l.error).toBeNull();
      expect(l.response!.status_code).toBe(200);
      expect(l.response!.body).toMatchObject({
        object: 'chat.completion',
        choices: [expect.objectContaining({ message: expect.objectContaining({ role: 'assistant' }) })],
      });
    }
    const ids: string[] = [];
    for await (const b of client.batches.list({ limit: 1 })) ids.push(b.id);
    expect(ids).toContain(batch.id);
    // Billed as batch work, through the same usage path as interactive requests.
    const usage = (await stack.usageEvents()).filter((e) => e.requestId.startsWith(batch.id));
    expect(usage.length).toBeGreaterThanOrEqual(n);
    expect(usage.every((e) => e.kind === 'batch' && e.status === 200)).toBe(true);
  });

  it('fails a file with bad lines before running anything, naming the lines', async () => {
    const lines = [
      chatLine(1),
      '{not json',
      chatLine(1),
      JSON.stringify({ custom_id: 'x', method: 'GET', url: '/v1/chat/completions', body: {} }),
      chatLine(5, { model: 'no/such-model' }),
      JSON.stringify({ custom_id: 'y', method: 'POST', url: '/v1/embeddings', body: { model: MODEL, input: 'x' } }),
    ];
    const batch = await create(client, lines);
    expect(batch.status).toBe('failed');
    const errors = batch.errors!.data!;
    expect(errors.map((e) => [e.line, e.code])).toEqual([
      [2, 'invalid_json_line'],
      [3, 'duplicate_custom_id'],
      [4, 'invalid_method'],
      [5, 'model_not_found'],
      [6, 'invalid_url'],
    ]);
    expect((await client.batches.retrieve(batch.id)).status).toBe('failed');
  });

  it('hides a user’s files and batches from other users (404)', async () => {
    const batch = await create(client, [chatLine(1)]);
    await expect(other.batches.retrieve(batch.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.batches.cancel(batch.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.files.retrieve(batch.input_file_id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.files.content(batch.input_file_id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.files.delete(batch.input_file_id)).rejects.toBeInstanceOf(NotFoundError);
    const seen: string[] = [];
    for await (const b of other.batches.list()) seen.push(b.id);
    expect(seen).not.toContain(batch.id);
    await poll(client, batch.id, (b) => b.status === 'completed');
  });

  it('cancels mid-batch: cancelled, with the finished part in the output', async () => {
    const n = 200;
    const batch = await create(
      client,
      Array.from({ length: n }, (_, i) => chatLine(i, { max_tokens: 64 })),
    );
    await poll(client, batch.id, (b) => (b.request_counts?.completed ?? 0) >= 5);
    // its input cannot be deleted while it runs (the batch reads its requests from it)
    const refused = await client.files.delete(batch.input_file_id).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConflictError);
    expect((refused as ConflictError).message).toContain(`is the input of batch ${batch.id}`);
    const cancelling = await client.batches.cancel(batch.id);
    expect(['cancelling', 'cancelled']).toContain(cancelling.status);
    const done = await poll(client, batch.id, (b) => b.status === 'cancelled');
    const finished = done.request_counts!.completed;
    expect(finished).toBeGreaterThanOrEqual(5);
    expect(finished).toBeLessThan(n);
    const out = parseLines(await (await client.files.content(done.output_file_id!)).text());
    expect(out).toHaveLength(finished);
    expect(new Set(out.map((l) => l.custom_id)).size).toBe(finished);
    // once the batch has ended, it can
    expect(await client.files.delete(batch.input_file_id)).toMatchObject({ id: batch.input_file_id, deleted: true });
  });

  it('loses and duplicates nothing when the executor is killed mid-batch', async () => {
    const n = 120;
    const batch = await create(
      client,
      Array.from({ length: n }, (_, i) => chatLine(i, { max_tokens: 48 })),
    );
    const before = await poll(client, batch.id, (b) => (b.request_counts?.completed ?? 0) >= 10);
    expect(before.request_counts!.completed).toBeLessThan(n);
    await stack.gateway.stop('SIGKILL');
    stack.gateway = await startService('gateway', { ...stack.env, ...gatewayEnv });
    client = sdk(client.apiKey!);
    const done = await poll(client, batch.id, (b) => b.status === 'completed', 90_000);
    expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 });
    const out = parseLines(await (await client.files.content(done.output_file_id!)).text());
    expect(out).toHaveLength(n);
    expect(new Set(out.map((l) => l.custom_id))).toEqual(new Set(Array.from({ length: n }, (_, i) => `req-${i}`)));
  });

  it('expires a batch past its completion window: output kept, batch_expired for the rest, nothing run after', async () => {
    const n = 150;
    const batch = await create(
      client,
      Array.from({ length: n }, (_, i) => chatLine(i, { max_tokens: 64 })),
    );
    await poll(client, batch.id, (b) => (b.request_counts?.completed ?? 0) >= 10);
    // The clock passing the 24 h window, without waiting for it.
    const db = new Client({ connectionString: stack.db.url });
    await db.connect();
    try {
      await db.query(`UPDATE batches SET expires_at = now() - interval '1 second' WHERE id = $1`, [batch.id]);
    } finally {
      await db.end();
    }
    const done = await poll(client, batch.id, (b) => b.status === 'expired', 20_000);
    expect(done.expired_at).toBeGreaterThanOrEqual(done.created_at);
    const { total, completed, failed } = done.request_counts!;
    expect(total).toBe(n);
    expect(completed).toBeGreaterThanOrEqual(10);
    expect(completed).toBeLessThan(n);
    expect(completed + failed).toBe(n);

    const out = parseLines(await (await client.files.content(done.output_file_id!)).text());
    const errors = parseLines(await (await client.files.content(done.error_file_id!)).text());
    expect(out).toHaveLength(completed);
    expect(errors).toHaveLength(failed);
    expect(out.every((l) => l.response?.status_code === 200 && l.error === null)).toBe(true);
    for (const l of errors) {
      expect(l.response).toBeNull();
      expect(l.error).toEqual({ code: 'batch_expired', message: expect.stringMatching(/completion window/) });
    }
    // Every custom_id exactly once across both files.
    const ids = [...out, ...errors].map((l) => l.custom_id).sort();
    expect(ids).toEqual(Array.from({ length: n }, (_, i) => `req-${i}`).sort());

    // Nothing of it starts once it has expired, and no more results appear.
    const ranBefore = (await stack.usageEvents()).filter((e) => e.requestId.startsWith(batch.id));
    await new Promise((r) => setTimeout(r, 2000));
    const ran = (await stack.usageEvents()).filter((e) => e.requestId.startsWith(batch.id));
    const startedAfter = ran.filter((e) => Date.parse(e.startedAt) > (done.expired_at! + 1) * 1000);
    expect(startedAfter).toEqual([]);
    // In-flight requests at expiry may still report; nothing new begins.
    expect(ran.length - ranBefore.length).toBeLessThanOrEqual(Number(gatewayEnv.GATEWAY_BATCH_MAX_IN_FLIGHT));
    expect(ran.length).toBeLessThan(n);
    expect((await client.batches.retrieve(batch.id)).request_counts).toEqual(done.request_counts);
  });

  it('refuses a batch at creation when the key’s batch token window is used up or would be overrun', async () => {
    const ceiling = 2000;
    const windowed = sdk((await stack.createKey({ name: 'windowed', limits: { batchShortWindowTokens: ceiling } })).secret);
    const createFor = async (lines: string[]) => {
      const file = await windowed.files.create({ file: await toFile(jsonl(lines), 'input.jsonl'), purpose: 'batch' });
      return windowed.batches
        .create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
        .catch((e) => e);
    };
    const usedNow = async (): Promise<number> => {
      const res = await fetch(`${stack.gateway.url}/v1/usage`, { headers: { authorization: `Bearer ${windowed.apiKey}` } });
      return ((await res.json()) as { batch: { short_window: { used_tokens: number } } }).batch.short_window.used_tokens;
    };
    // ~1,000 completion tokens (ignore_eos: every request generates max_tokens) plus the prompts.
    const tenLines = () => Array.from({ length: 10 }, (_, i) => chatLine(i, { max_tokens: 100, ignore_eos: true }));
    const first = await createFor(tenLines());
    expect(first.status).toBe('in_progress');
    await poll(windowed, first.id, (b) => b.status === 'completed');
    const used = await usedNow();
    expect(used).toBeGreaterThan(1000);
    expect(used).toBeLessThan(ceiling);

    // ~1,000 more input tokens would overrun the window: 429, with when it will fit.
    const overrun = await createFor([chatLine(1, { messages: [{ role: 'user', content: 'x'.repeat(4000) }] })]);
    expect(overrun).toBeInstanceOf(RateLimitError);
    expect(overrun.message).toContain('batch_short_window_tokens');
    expect(overrun.message).toContain(`${used.toLocaleString('en-US')} of ${ceiling.toLocaleString('en-US')} tokens are used`);
    expect(overrun.message).toMatch(/this batch has ~1,0\d\d input tokens/);
    expect(overrun.error).toMatchObject({ code: 'batch_short_window_tokens_exceeded', type: expect.any(String) });
    const retryAfter = Number(overrun.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(3 * 3600 - 120);
    expect(retryAfter).toBeLessThanOrEqual(3 * 3600);

    // Larger than the whole window: refused, and no Retry-After can help.
    const tooLarge = await createFor([chatLine(1, { messages: [{ role: 'user', content: 'x'.repeat(4 * ceiling + 400) }] })]);
    expect(tooLarge).toBeInstanceOf(RateLimitError);
    expect(tooLarge.message).toMatch(/larger than the limit/);
    expect(tooLarge.headers.get('retry-after')).toBeNull();

    // A small batch still fits and runs; the same ten lines again would not: the output each line allows is counted before it runs.
    const second = await createFor(tenLines().slice(0, 4));
    expect(second.status).toBe('in_progress');
    await poll(windowed, second.id, (b) => b.status === 'completed');
    const usedAfter = await usedNow();
    expect(usedAfter).toBeGreaterThan(used + 400);
    const again = await createFor(tenLines());
    expect(again).toBeInstanceOf(RateLimitError);
    expect(again.status).toBe(429);
    expect(again.message).toContain(`${usedAfter.toLocaleString('en-US')} of 2,000 tokens are used`);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
    // Interactive use is limited separately and still allowed.
    await expect(
      windowed.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
    ).resolves.toBeDefined();
  });

  it('refuses a batch beyond the key’s pending-token limit with a 429 naming it', async () => {
    const file = await client.files.create({
      file: await toFile(jsonl([chatLine(1, { messages: [{ role: 'user', content: 'x'.repeat(100_000) }] })]), 'big.jsonl'),
      purpose: 'batch',
    });
    const refused = await client.batches
      .create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
      .catch((e) => e);
    expect(refused).toBeInstanceOf(RateLimitError);
    expect(refused.message).toMatch(/batch_pending_tokens.*limit is 20000/);
    await client.files.delete(file.id);
    await expect(client.files.retrieve(file.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});
