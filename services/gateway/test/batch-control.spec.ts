import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { chatBody, MODEL, readSse, sleep, Stack, waitUntil, Worker } from './support/stack';

const CEILING = 16;

/**
 * The adaptive batch control (the default) against a real gateway and a simulated worker: a batch
 * backlog alone climbs to the ceiling; interactive requests that miss their objectives cut the worker's
 * batch limit; when they stop, the limit climbs again. The objectives are set below anything a request
 * can reach, so every interactive request is evidence that they are at risk; directions and bounds
 * are asserted, not timings. With GATEWAY_BATCH_SHED a cut acts at once: the batch requests over the
 * limit are shed (aborted unbilled and queued again).
 */
describe('adaptive batch control', () => {
  let stack: Stack;
  let worker: Worker;
  const fileDir = mkdtempSync(join(tmpdir(), 'maas-batch-control-'));

  beforeAll(async () => {
    stack = new Stack({
      GATEWAY_FILE_STORE_DIR: fileDir,
      GATEWAY_BATCH_SWEEP: '200ms',
      GATEWAY_BATCH_CONCURRENCY: `${MODEL}=${CEILING}`,
      GATEWAY_BATCH_OBJECTIVES: JSON.stringify({ '*': { ttftP99Ms: 1, tpotP99Ms: 0.01 } }),
      GATEWAY_BATCH_SHED: 'true',
    });
    await stack.start();
    worker = await stack.startWorker();
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(fileDir, { recursive: true, force: true });
  });

  /** The gateway's `maas_gateway_batch_limit` for the worker; undefined before the control has seen it. */
  const limit = async (): Promise<number | undefined> => {
    const text = await (await fetch(stack.url('/metrics'))).text();
    const line = text.split('\n').find((l) => l.startsWith('maas_gateway_batch_limit{') && l.includes(`worker="${worker.workerId}"`));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };

  it('climbs while batch runs alone, falls when interactive load arrives, climbs again when it leaves', async () => {
    const { secret } = await stack.createKey({ name: 'control' });
    const client = new OpenAI({ apiKey: secret, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0, timeout: 30_000 });
    const lines = Array.from({ length: 96 }, (_, i) =>
      JSON.stringify({
        custom_id: `c-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: MODEL, messages: [{ role: 'user', content: `Write chapter ${i}.` }], max_tokens: 1500, ignore_eos: true },
      }),
    );
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'input.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });

    // Night: batch alone, no interactive request; the limit climbs (slow start) toward the ceiling.
    const night = await waitUntil(
      async () => {
        const l = await limit();
        return l !== undefined && l >= CEILING / 2 ? l : undefined;
      },
      30_000,
      'the batch limit to climb',
    );
    expect(night).toBeLessThanOrEqual(CEILING);

    // Day: streamed interactive requests, four at a time, until the limit has fallen.
    let day = true;
    const seen: number[] = [];
    const load = Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        for (let n = 0; day; n++) {
          const res = await stack.post(
            '/v1/chat/completions',
            secret,
            chatBody({ stream: true, max_tokens: 12, messages: [{ role: 'user', content: `q${i}-${n}` }] }),
          );
          expect(res.status).toBe(200);
          expect((await readSse(res)).done).toBe(true);
        }
      }),
    );
    const low = await waitUntil(
      async () => {
        const l = (await limit())!;
        seen.push(l);
        return l <= night / 4 ? l : undefined;
      },
      60_000,
      'the batch limit to fall under interactive load',
    );
    day = false;
    await load;
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(1); // the floor: the backlog keeps moving

    // The cut acted at once: batch requests over the limit were shed, each ending unbilled and not a failure.
    const shed = (await stack.usageEvents()).filter((e) => e.kind === 'batch' && e.errorCode === 'batch_shed');
    expect(shed.length).toBeGreaterThan(0);
    for (const e of shed) expect([e.promptTokens, e.completionTokens]).toEqual([0, 0]);
    const afterDay = await client.batches.retrieve(batch.id);
    expect(afterDay.request_counts!.failed).toBe(0);

    // Evening: interactive load gone, the limit climbs again, never past the ceiling.
    const again = await waitUntil(
      async () => {
        const l = (await limit())!;
        return l > low ? l : undefined;
      },
      60_000,
      'the batch limit to climb again',
    );
    expect(again).toBeLessThanOrEqual(CEILING);
    await client.batches.cancel(batch.id);
    await sleep(200);
  });
});
