import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, NatsConnection } from 'nats';
import OpenAI, { toFile } from 'openai';
import { Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import { deleteStreams, StartedService, testNamespace, testNatsUrl } from '@maas/testing';
import { LocalFileStore, SharedFileStore } from '../src/batch/file-store.repository';
import { MODEL, Stack, waitUntil } from './support/stack';

/** Batch files in the NATS object store: uploaded to one gateway, executed and served by any. */
describe('gateway: batch files shared by two gateways', () => {
  const dirs = [mkdtempSync(join(tmpdir(), 'maas-files-a-')), mkdtempSync(join(tmpdir(), 'maas-files-b-'))];
  // Each gateway has a local directory of its own: what one reads from the other came through NATS.
  const stack = new Stack({ GATEWAY_FILE_STORE_DIR: dirs[0], GATEWAY_BATCH_SWEEP: '200ms' });
  let b: StartedService;
  let clientA: OpenAI;
  let clientB: OpenAI;

  beforeAll(async () => {
    await stack.start();
    b = await stack.startGateway({ GATEWAY_FILE_STORE_DIR: dirs[1] });
    const worker = await stack.startWorker();
    await b.waitFor((r) => r.msg === 'worker joined' && r.workerId === worker.workerId, 15_000, 'gateway B learning the worker');
    const { secret } = await stack.createKey({ name: 'shared-files' });
    clientA = new OpenAI({ apiKey: secret, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0, timeout: 30_000 });
    clientB = new OpenAI({ apiKey: secret, baseURL: `${b.url}/v1`, maxRetries: 0, timeout: 30_000 });
  }, 90_000);

  afterAll(async () => {
    await stack.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('downloads from gateway B a file uploaded to gateway A, byte for byte', async () => {
    const content = Buffer.from(Array.from({ length: 5000 }, (_, i) => `{"line":${i},"text":"ünïcødé ${'x'.repeat(i % 97)}"}`).join('\n'));
    const file = await clientA.files.create({ file: await toFile(content, 'data.jsonl'), purpose: 'batch' });
    const downloaded = Buffer.from(await (await clientB.files.content(file.id)).arrayBuffer());
    expect(downloaded.equals(content)).toBe(true);
    await clientB.files.delete(file.id);
    await expect(clientA.files.content(file.id)).rejects.toMatchObject({ status: 404 });
  });

  it('completes a batch created on gateway A and serves its output from gateway B', async () => {
    const n = 6;
    const lines = Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        custom_id: `req-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: MODEL, messages: [{ role: 'user', content: `Summarise paper ${i}.` }], max_tokens: 8 },
      }),
    );
    const file = await clientA.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'input.jsonl'), purpose: 'batch' });
    const batch = await clientA.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const done = await waitUntil(
      async () => {
        const r = await clientB.batches.retrieve(batch.id);
        return r.status === 'completed' ? r : undefined;
      },
      60_000,
      'the batch to complete',
    );
    expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 });
    const out: { custom_id: string; response: { status_code: number } }[] = (
      await (await clientB.files.content(done.output_file_id!)).text()
    )
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l));
    expect(out.map((o) => o.custom_id).sort()).toEqual(lines.map((_, i) => `req-${i}`).sort());
    expect(out.every((o) => o.response.status_code === 200)).toBe(true);
  }, 90_000);
});

describe('SharedFileStore', () => {
  const namespace = testNamespace();
  const dir = mkdtempSync(join(tmpdir(), 'maas-files-local-'));
  let nc: NatsConnection;
  let bus: MessageBus;

  beforeAll(async () => {
    nc = await connect({ servers: testNatsUrl(), name: 'test' });
    bus = new MessageBus(nc, new Subjects(namespace));
  });

  afterAll(async () => {
    await deleteStreams(nc, namespace);
    await nc.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves a file found only on the local disk into the object store when it is read, for every gateway', async () => {
    writeFileSync(join(dir, 'file-old'), 'written before the store was shared');
    const here = new SharedFileStore(bus, new LocalFileStore(dir));
    const elsewhere = new SharedFileStore(bus, new LocalFileStore(mkdtempSync(join(tmpdir(), 'maas-files-other-'))));
    await expect(elsewhere.get('file-old')).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await here.get('file-old')).toString()).toBe('written before the store was shared');
    expect(existsSync(join(dir, 'file-old'))).toBe(false);
    expect((await elsewhere.get('file-old')).toString()).toBe('written before the store was shared');
    await elsewhere.delete('file-old');
    await expect(here.get('file-old')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(here.get('../etc/passwd')).rejects.toThrow('invalid file id');
  });
});
