import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { factory } from '@maas/testing';
import { chatPromptTokens, completionTextTokens } from '../src/policy/prompt-tokens';
import { json, readSse, Stack, waitUntil } from './support/stack';

interface Received {
  readonly path: string;
  readonly body: Record<string, unknown>;
}

const WORDS = ['Hel', 'lo', ' there'];

/**
 * Stands in for a runtime that reports no usage (it ignores `stream_options.include_usage`, as some
 * OpenAI-compatible servers do): records every body it gets, answers "Hello there" in three chunks.
 */
async function startUsagelessRuntime(): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      received.push({ path: req.url!, body });
      const chat = req.url === '/v1/chat/completions';
      const head = { id: 'x', created: 1, model: body.model };
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const w of WORDS) {
          const choice = chat ? { index: 0, delta: { content: w }, finish_reason: null } : { index: 0, text: w, finish_reason: null };
          res.write(
            `data: ${JSON.stringify({ ...head, object: chat ? 'chat.completion.chunk' : 'text_completion', choices: [choice] })}\n\n`,
          );
        }
        return void res.end('data: [DONE]\n\n');
      }
      const text = WORDS.join('');
      const choice = chat
        ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }
        : { index: 0, text, finish_reason: 'stop' };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...head, object: chat ? 'chat.completion' : 'text_completion', choices: [choice] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise((r) => server.close(() => r())) };
}

/** One model per runtime kind, all served by the stand-in: what reaches it shows what the gateway let through. */
const MODELS = { vllm: 'kinds/vllm', 'llama.cpp': 'kinds/llama', 'openai-compatible': 'kinds/openai' } as const;

describe('request fields per runtime kind, the gateway’s priority, and its own token count', () => {
  const fileDir = mkdtempSync(join(tmpdir(), 'maas-request-fields-'));
  const stack = new Stack({
    GATEWAY_BATCH_PRIORITY: '1',
    GATEWAY_FILE_STORE_DIR: fileDir,
    GATEWAY_BATCH_SWEEP: '200ms',
    GATEWAY_TOKENIZERS: `${MODELS['openai-compatible']}=cl100k_base`,
  });
  let runtime: Awaited<ReturnType<typeof startUsagelessRuntime>>;
  let beats: NodeJS.Timeout;
  let key: string;

  beforeAll(async () => {
    [runtime] = await Promise.all([startUsagelessRuntime(), stack.start()]);
    const registrations = Object.entries(MODELS).map(([kind, model]) =>
      factory.workerRegistered({
        workerId: `fields-${kind.replace('.', '')}-${stack.namespace.slice(-6)}`,
        url: runtime.url,
        capacity: 8,
        runtime: { kind: kind as keyof typeof MODELS },
        models: [{ id: model, capabilities: ['chat', 'completion'] }],
      }),
    );
    const beat = () => {
      for (const r of registrations)
        stack.bus.publish('worker.heartbeat', factory.workerHeartbeat({ workerId: r.workerId, load: { running: 0, waiting: 0 } }));
    };
    for (const r of registrations) stack.bus.publish('worker.registered', r);
    beats = setInterval(beat, 500);
    for (const r of registrations) await stack.gateway.waitFor((l) => l.msg === 'worker joined' && l.workerId === r.workerId, 10_000);
    key = (await stack.createKey()).secret;
  });

  afterAll(async () => {
    clearInterval(beats);
    await Promise.all([runtime?.close(), stack.stop()]);
    rmSync(fileDir, { recursive: true, force: true });
  });

  const chat = (model: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    stack.post('/v1/chat/completions', key, { model, messages: [{ role: 'user', content: 'Say hello.' }], ...extra }, headers);
  const lastBodyFor = (model: string) => [...runtime.received].reverse().find((r) => r.body.model === model)?.body;

  it.each([
    ['vllm', 'guided_json', 200, { type: 'object' }],
    ['vllm', 'repetition_penalty', 200, 1.1],
    ['vllm', 'grammar', 400, 'root ::= "a"'],
    ['llama.cpp', 'grammar', 200, 'root ::= "a"'],
    ['llama.cpp', 'mirostat', 200, 2],
    ['llama.cpp', 'guided_json', 400, { type: 'object' }],
    ['openai-compatible', 'top_k', 400, 40],
    ['openai-compatible', 'seed', 200, 7],
  ] as [keyof typeof MODELS, string, number, unknown][])('%s runtime, %s: %i', async (kind, field, status, value) => {
    const model = MODELS[kind];
    const before = runtime.received.length;
    const res = await chat(model, { [field]: value });
    expect(res.status).toBe(status);
    if (status === 200) {
      expect(lastBodyFor(model)).toMatchObject({ [field]: value });
    } else {
      expect((await json(res)).error).toEqual({
        message: `${field} is not supported by the ${kind} runtime serving "${model}"`,
        type: 'invalid_request_error',
        param: field,
        code: 'unsupported_parameter',
      });
      expect(runtime.received.length).toBe(before); // refused before anything reached the runtime
    }
  });

  it('refuses a field no runtime takes, and a client’s priority, before routing', async () => {
    const before = runtime.received.length;
    const unknown = await chat(MODELS.vllm, { frobnicate: true });
    expect(unknown.status).toBe(400);
    expect((await json(unknown)).error).toMatchObject({ type: 'invalid_request_error', param: 'frobnicate', code: 'unknown_parameter' });
    const priority = await chat(MODELS.vllm, { priority: -10 });
    expect(priority.status).toBe(400);
    expect((await json(priority)).error).toMatchObject({ param: 'priority', code: 'unsupported_parameter' });
    expect(runtime.received.length).toBe(before);
  });

  it('bills a stream from a runtime that sends no usage with the model’s tokenizer: tools, image parts and all', async () => {
    const tools = [
      {
        type: 'function',
        function: { name: 'lookup', description: 'Find a paper', parameters: { type: 'object', properties: { q: { type: 'string' } } } },
      },
    ];
    const messages = [
      { role: 'system', content: 'あなたは図書館の司書です。' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What does this figure show?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
        ],
      },
    ];
    for (const [model, tokenizer] of [
      [MODELS.vllm, 'o200k_base'],
      [MODELS['openai-compatible'], 'cl100k_base'],
    ] as const) {
      const id = `req-fields-stream-${tokenizer}`;
      const res = await chat(model, { messages, tools, stream: true }, { 'x-request-id': id });
      expect(res.status).toBe(200);
      const read = await readSse(res);
      expect(read.done).toBe(true);
      const [event] = await stack.usageOf(id);
      expect(event).toMatchObject({ tokensCountedBy: 'gateway', completionTokens: WORDS.length });
      expect(event.promptTokens).toBe(chatPromptTokens({ messages, tools }, tokenizer));
    }
    // The two tokenizers count this prompt differently: each model was billed on its own.
    expect(chatPromptTokens({ messages, tools }, 'o200k_base')).not.toBe(chatPromptTokens({ messages, tools }, 'cl100k_base'));
  });

  it('bills a whole answer without usage on its text through the tokenizer', async () => {
    const res = await chat(MODELS.vllm, {}, { 'x-request-id': 'req-fields-json' });
    expect(res.status).toBe(200);
    const [event] = await stack.usageOf('req-fields-json');
    expect(event).toMatchObject({
      tokensCountedBy: 'gateway',
      promptTokens: chatPromptTokens({ messages: [{ role: 'user', content: 'Say hello.' }] }),
      completionTokens: completionTextTokens(WORDS.join('')),
    });
  });

  it('sends batch work at GATEWAY_BATCH_PRIORITY to vLLM, interactive work without, and no priority to a runtime that does not read it', async () => {
    expect(lastBodyFor(MODELS.vllm)).not.toHaveProperty('priority');
    const client = new OpenAI({ apiKey: key, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0, timeout: 30_000 });
    const lines = Object.values(MODELS).map((model, i) =>
      JSON.stringify({
        custom_id: `line-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model, messages: [{ role: 'user', content: `Batch line ${i} for ${model}` }] },
      }),
    );
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'input.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const done = await waitUntil(
      async () => {
        const b = await client.batches.retrieve(batch.id);
        return b.status === 'completed' || b.status === 'failed' ? b : undefined;
      },
      30_000,
      'the batch to complete',
    );
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 3, completed: 3, failed: 0 } });
    const batchBody = (model: string) =>
      runtime.received.find((r) => String(JSON.stringify(r.body.messages)).includes(`for ${model}`))?.body;
    expect(batchBody(MODELS.vllm)).toMatchObject({ priority: 1 });
    expect(batchBody(MODELS['llama.cpp'])).not.toHaveProperty('priority');
    expect(batchBody(MODELS['openai-compatible'])).not.toHaveProperty('priority');
  });
});
