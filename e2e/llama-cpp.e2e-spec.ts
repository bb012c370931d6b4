import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import OpenAI from 'openai';
import { startNode, StartedProcess } from '@maas/testing';
import { writeTinyLlamaGguf } from '../libs/llama-engine/src/testing/tiny-llama';
import { Stack } from '../services/gateway/test/support/stack';

const MODEL = 'open-maas/tiny-llama';

/**
 * A real CPU runtime behind the gateway: llama.cpp (node-llama-cpp) serving the project's tiny
 * random-weight GGUF, registered by `maas worker --attach`, used through the official SDK.
 */
describe('llama.cpp worker through the gateway', () => {
  const stack = new Stack();
  let engine: StartedProcess;
  let dir: string;
  let client: OpenAI;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'maas-llama-e2e-'));
    const file = path.join(dir, 'tiny.gguf');
    writeTinyLlamaGguf(file);
    await stack.start();
    engine = startNode('bin/maas.js', {}, [
      'llama-engine',
      '--model',
      file,
      '--model-id',
      MODEL,
      '--port',
      '0',
      '--threads',
      '1',
      '--context',
      '512',
      '--parallel',
      '2',
      '--embedding',
    ]);
    const ready = await engine.waitFor((r) => r.msg === 'ready', 60_000, 'llama-engine ready');
    const worker = startNode('bin/maas.js', { ...stack.env }, [
      'worker',
      '--attach',
      String(ready.url),
      '--worker-id',
      'llama-e2e',
      '--heartbeat',
      '500ms',
      '--hardware',
      'cpu',
    ]);
    await worker.waitFor((r) => r.msg === 'worker registered', 30_000, 'llama worker registration');
    stack.workers.push({ ...worker, workerId: 'llama-e2e', url: String(ready.url) } as never);
    await stack.gateway.waitFor(
      (r) => r.msg === 'worker joined' && r.workerId === 'llama-e2e',
      10_000,
      'gateway learning the llama worker',
    );
    client = new OpenAI({
      apiKey: (await stack.createKey({ name: 'llama-e2e' })).secret,
      baseURL: `${stack.gateway.url}/v1`,
      maxRetries: 0,
    });
  }, 120_000);

  afterAll(async () => {
    await engine?.stop();
    await stack.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the GGUF model with chat, completion and embedding', async () => {
    const model = (await client.models.retrieve(MODEL)) as unknown as { metadata: { capabilities: string[] } };
    expect(model.metadata.capabilities).toEqual(expect.arrayContaining(['chat', 'completion', 'embedding']));
  });

  it('chats without streaming and with streaming, with the runtime’s usage', async () => {
    const messages = [{ role: 'user' as const, content: 'what is a cat?' }];
    const plain = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 8, seed: 3 });
    expect(plain.choices[0].message.role).toBe('assistant');
    // Random weights may sample the end token early: at most max_tokens, and "length" exactly at it.
    const generated = plain.usage!.completion_tokens;
    expect(generated).toBeGreaterThan(0);
    expect(generated).toBeLessThanOrEqual(8);
    expect(plain.choices[0].finish_reason).toBe(generated === 8 ? 'length' : 'stop');
    expect(plain.usage!.prompt_tokens).toBeGreaterThan(0);

    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 8,
      seed: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(plain.choices[0].message.content);
    expect(usage).toMatchObject({ completion_tokens: generated, prompt_tokens: plain.usage!.prompt_tokens });
  });

  it('completes text and embeds, float and base64 alike', async () => {
    const done = await client.completions.create({ model: MODEL, prompt: 'the cat sat on', max_tokens: 4 });
    expect(done.usage?.completion_tokens).toBeGreaterThan(0);
    expect(done.usage?.completion_tokens).toBeLessThanOrEqual(4);
    const floats = await client.embeddings.create({ model: MODEL, input: ['a cat', 'a dog'], encoding_format: 'float' });
    const packed = await client.embeddings.create({ model: MODEL, input: ['a cat', 'a dog'] }); // the SDK asks base64 and decodes
    expect(floats.data).toHaveLength(2);
    expect(floats.data[0].embedding).toHaveLength(64);
    for (let i = 0; i < 2; i += 1) {
      packed.data[i].embedding.forEach((v, j) => expect(v).toBeCloseTo(floats.data[i].embedding[j], 5));
    }
  });
});
