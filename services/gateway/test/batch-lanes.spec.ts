import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { MODEL, sleep, Stack, waitUntil, Worker } from './support/stack';

/**
 * Two workers of one model and a batch: the gateway keeps one worker free of batch work
 * (GATEWAY_INTERACTIVE_LANE=1), so interactive requests sent while the batch runs are served
 * there, and every batch request runs on the other worker. When the batch's worker dies, the
 * batch carries on, sharing the one left, and every result is written once.
 */
describe('interactive and batch lanes', () => {
  let stack: Stack;
  let workers: Worker[];
  const fileDir = mkdtempSync(join(tmpdir(), 'maas-batch-lanes-'));

  beforeAll(async () => {
    stack = new Stack({
      GATEWAY_FILE_STORE_DIR: fileDir,
      GATEWAY_BATCH_SWEEP: '200ms',
      GATEWAY_INTERACTIVE_LANE: '1',
      GATEWAY_BATCH_CONCURRENCY: `${MODEL}=4`,
    });
    await stack.start();
    // The simulated engines run at half of real speed, so the batch is still running while interactive requests come.
    workers = [await stack.startWorker(['--sim-time-scale', '0.5']), await stack.startWorker(['--sim-time-scale', '0.5'])];
    await waitUntil(
      async () => {
        const res = await fetch(stack.url('/health'));
        return res.ok;
      },
      10_000,
      'gateway health',
    );
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(fileDir, { recursive: true, force: true });
  });

  it('serves interactive requests on the worker the batch does not use', async () => {
    const { secret } = await stack.createKey({ name: 'lanes' });
    const client = new OpenAI({ apiKey: secret, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0, timeout: 30_000 });
    const n = 12;
    const lines = Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        custom_id: `req-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: MODEL, messages: [{ role: 'user', content: `Summarise paper ${i}.` }], max_tokens: 300, ignore_eos: true },
      }),
    );
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'input.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    // Interactive requests while batch work is running (some done, not all).
    await waitUntil(async () => (await client.batches.retrieve(batch.id)).request_counts!.completed >= 1, 30_000, 'the first batch result');
    const interactiveIds: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await stack.post('/v1/chat/completions', secret, {
        model: MODEL,
        messages: [{ role: 'user', content: `Question ${i}?` }],
        max_tokens: 8,
      });
      expect(res.status).toBe(200);
      interactiveIds.push(res.headers.get('x-request-id')!);
      await sleep(100);
    }
    const stillRunning = await client.batches.retrieve(batch.id);
    expect(stillRunning.request_counts!.completed).toBeLessThan(n);

    const done = await waitUntil(
      async () => {
        const b = await client.batches.retrieve(batch.id);
        return b.status === 'completed' ? b : undefined;
      },
      60_000,
      'the batch to complete',
    );
    expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 });

    const events = await waitUntil(
      async () => {
        const all = await stack.usageEvents();
        return all.filter((e) => e.kind === 'batch').length >= n ? all : undefined;
      },
      10_000,
      'the batch usage events',
    );
    const batchWorkers = new Set(events.filter((e) => e.kind === 'batch').map((e) => e.workerId));
    const interactiveWorkers = new Set(events.filter((e) => interactiveIds.includes(e.requestId)).map((e) => e.workerId));
    expect(batchWorkers.size).toBe(1);
    expect(interactiveWorkers.size).toBe(1);
    const [batchWorker] = batchWorkers;
    const [interactiveWorker] = interactiveWorkers;
    expect(new Set([batchWorker, interactiveWorker])).toEqual(new Set(workers.map((w) => w.workerId)));
  });

  it('never runs more batch requests at once than the best concurrency, even when many are admitted together', async () => {
    const batch = (await stack.usageEvents()).filter((e) => e.kind === 'batch');
    expect(batch.length).toBeGreaterThanOrEqual(12);
    // Most requests running at one instant, from their start and end times.
    const edges = batch
      .flatMap(
        (e) =>
          [
            [Date.parse(e.startedAt), 1],
            [Date.parse(e.finishedAt), -1],
          ] as const,
      )
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let running = 0;
    let most = 0;
    for (const [, d] of edges) {
      running += d;
      most = Math.max(most, running);
    }
    expect(most).toBe(4);
  });

  it('loses and duplicates nothing when the worker running the batch is killed mid-batch', async () => {
    const { secret } = await stack.createKey({ name: 'lanes-kill' });
    const client = new OpenAI({ apiKey: secret, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0, timeout: 30_000 });
    const n = 12;
    const lines = Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        custom_id: `k-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: MODEL, messages: [{ role: 'user', content: `Summarise report ${i}.` }], max_tokens: 300, ignore_eos: true },
      }),
    );
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'input.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitUntil(async () => (await client.batches.retrieve(batch.id)).request_counts!.completed >= 2, 30_000, 'two batch results');
    const before = (await stack.usageEvents()).filter((e) => e.kind === 'batch' && e.requestId.startsWith(batch.id));
    const victimId = before[0].workerId;
    const victim = workers.find((w) => w.workerId === victimId)!;
    await victim.stop('SIGKILL');
    const atKill = (await client.batches.retrieve(batch.id)).request_counts!.completed;
    expect(atKill).toBeLessThan(n);

    const done = await waitUntil(
      async () => {
        const b = await client.batches.retrieve(batch.id);
        return b.status === 'completed' ? b : undefined;
      },
      60_000,
      'the batch to complete on the worker left',
    );
    expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 });
    expect(done.error_file_id).toBeNull();
    const out: { custom_id: string; response: { status_code: number } }[] = (
      await (await client.files.content(done.output_file_id!)).text()
    )
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l));
    expect(out.map((l) => l.custom_id).sort()).toEqual(Array.from({ length: n }, (_, i) => `k-${i}`).sort());
    expect(out.every((l) => l.response.status_code === 200)).toBe(true);
    const after = (await stack.usageEvents()).filter((e) => e.kind === 'batch' && e.requestId.startsWith(batch.id) && e.status === 200);
    expect(new Set(after.map((e) => e.workerId))).toContain(workers.find((w) => w.workerId !== victimId)!.workerId);
  });
});
