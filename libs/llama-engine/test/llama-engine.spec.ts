import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fromBase64, writeTinyLlamaGguf } from '@maas/llama-engine';
import { startNode, StartedProcess } from '@maas/testing';
import { parseRuntimeLoad, RuntimeClient, sumSamples } from '@maas/worker-agent';

// The real engine: llama.cpp through node-llama-cpp, serving the project's tiny random-weight GGUF
// (generated here, ~0.5 MB). It runs as `maas llama-engine` in a child process because
// node-llama-cpp is an ES module, which jest's CommonJS sandbox cannot load. Answers are nonsense;
// what is checked is the API: shapes, token accounting, determinism, stops, batching, aborts.

const MODEL = 'tiny-llama';
const CONTEXT = 2048;
let dir: string;
let engine: StartedProcess;
let url: string;

async function post(route: string, body: unknown, init: RequestInit = {}) {
  const res = await fetch(`${url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** The `data:` payloads of an SSE body, `[DONE]` kept as a string. */
function events(text: string): any[] {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice(6))
    .map((data) => (data === '[DONE]' ? data : JSON.parse(data)));
}

async function metrics(): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

async function counter(name: string): Promise<number> {
  return sumSamples(await metrics(), new Set([name])).get(name) ?? 0;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const load = async () => parseRuntimeLoad(await metrics());

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'maas-llama-test-'));
  const file = path.join(dir, 'tiny.gguf');
  writeTinyLlamaGguf(file);
  // One thread: for a model this small, thread hand-offs cost more than the arithmetic.
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
    String(CONTEXT),
    '--parallel',
    '2',
    '--embedding',
    '--max-body-mb',
    '1',
  ]);
  const ready = await engine.waitFor((r) => r.msg === 'ready', 60_000, 'ready line');
  url = String(ready.url);
});

afterAll(async () => {
  await engine?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('serving a GGUF model through llama.cpp', () => {
  it('lists the model with its capabilities, and the worker agent reads it like vLLM', async () => {
    const list = await (await fetch(`${url}/v1/models`)).json();
    expect(list.data).toEqual([
      expect.objectContaining({
        id: MODEL,
        object: 'model',
        max_model_len: CONTEXT,
        capabilities: ['chat', 'completion', 'embedding'],
        meta: expect.objectContaining({ architecture: 'llama', embedding_length: 64, vocab_size: 300, chat_format: 'ChatML', slots: 2 }),
      }),
    ]);
    const client = new RuntimeClient(url);
    expect(await client.models()).toEqual([expect.objectContaining({ id: MODEL, maxModelLen: CONTEXT })]);
    expect(await client.health()).toBe('ready');
    expect(parseRuntimeLoad((await client.metrics()) as string)).toEqual({
      family: 'vllm',
      running: 0,
      waiting: 0,
      kvCacheUsage: 0,
      prefixQueries: expect.any(Number),
      prefixHits: expect.any(Number),
      // step time comes from tokens generated per running sequence: llama-engine exports no inter-token histogram
      generatedTokens: 0,
      tokenGapSum: undefined,
      tokenGapCount: undefined,
    });
  });

  const chat = {
    model: MODEL,
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'what is a cat?' },
    ],
    max_tokens: 12,
    seed: 7,
  };

  it('answers a chat completion; prompt tokens are the rendered template counted by the tokenizer', async () => {
    const { status, json } = await post('/v1/chat/completions', chat);
    expect(status).toBe(200);
    expect(json).toEqual({
      id: expect.stringMatching(/^chatcmpl-[0-9a-f]{32}$/),
      object: 'chat.completion',
      created: expect.any(Number),
      model: MODEL,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: expect.any(String), refusal: null },
          logprobs: null,
          finish_reason: expect.stringMatching(/^(stop|length)$/),
        },
      ],
      usage: {
        prompt_tokens: expect.any(Number),
        completion_tokens: expect.any(Number),
        total_tokens: expect.any(Number),
        prompt_tokens_details: { cached_tokens: expect.any(Number) },
      },
    });
    const tokenized = await post('/tokenize', { model: MODEL, messages: chat.messages });
    const { usage, choices } = json;
    expect(usage.prompt_tokens).toBe(tokenized.json.count);
    // ChatML: <s> <|im_start|> … <|im_end|> … <|im_start|>assistant\n
    expect(tokenized.json.tokens.slice(0, 2)).toEqual([1, 3]);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(usage.completion_tokens).toBeGreaterThanOrEqual(1);
    expect(usage.completion_tokens).toBeLessThanOrEqual(12);
    expect(choices[0].finish_reason).toBe(usage.completion_tokens === 12 ? 'length' : 'stop');
  });

  it('streams the same answer token by token, then the finish reason, usage and [DONE]', async () => {
    const whole = await post('/v1/chat/completions', chat);
    const streamed = await post('/v1/chat/completions', { ...chat, stream: true, stream_options: { include_usage: true } });
    expect(streamed.status).toBe(200);
    expect(streamed.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const list = events(streamed.text);
    expect(list.at(-1)).toBe('[DONE]');
    const chunks = list.slice(0, -1);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const content = chunks.filter((c) => c.choices[0]?.delta?.content).map((c) => c.choices[0].delta.content);
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    const usageChunk = chunks.at(-1);
    expect(finish).toHaveLength(1);
    expect(finish[0].choices[0].finish_reason).toBe(whole.json.choices[0].finish_reason);
    expect(usageChunk.choices).toEqual([]);
    expect({ ...usageChunk.usage, prompt_tokens_details: undefined }).toEqual({ ...whole.json.usage, prompt_tokens_details: undefined });
    // One event per token, except that the bytes of a split UTF-8 character travel together.
    expect(content.length).toBeGreaterThanOrEqual(1);
    expect(content.length).toBeLessThanOrEqual(whole.json.usage.completion_tokens);
    expect(content.join('')).toBe(whole.json.choices[0].message.content);
    expect(chunks.slice(0, -1).every((c) => c.usage === null && c.id === chunks[0].id && c.object === 'chat.completion.chunk')).toBe(true);
  });

  it('samples reproducibly with a seed and differently with another', async () => {
    const body = { ...chat, max_tokens: 8, temperature: 1, ignore_eos: true };
    const a = await post('/v1/chat/completions', { ...body, seed: 42 });
    const b = await post('/v1/chat/completions', { ...body, seed: 42 });
    const c = await post('/v1/chat/completions', { ...body, seed: 43 });
    expect(a.json.choices[0].message.content).toBe(b.json.choices[0].message.content);
    expect(c.json.choices[0].message.content).not.toBe(a.json.choices[0].message.content);
  });

  it('completes a prompt up to max_tokens, counting tokens as the tokenizer does, from text or token ids', async () => {
    const body = { model: MODEL, prompt: 'the cat sat on', max_tokens: 16, ignore_eos: true, temperature: 0 };
    const text = await post('/v1/completions', body);
    expect(text.status).toBe(200);
    expect(text.json).toMatchObject({
      object: 'text_completion',
      model: MODEL,
      choices: [{ index: 0, text: expect.any(String), finish_reason: 'length', logprobs: null }],
    });
    const tokenized = await post('/tokenize', { prompt: body.prompt });
    expect(text.json.usage).toMatchObject({
      prompt_tokens: tokenized.json.count,
      completion_tokens: 16,
      total_tokens: tokenized.json.count + 16,
    });
    const ids = await post('/v1/completions', { ...body, prompt: tokenized.json.tokens });
    expect(ids.json.choices[0].text).toBe(text.json.choices[0].text);
    expect(ids.json.usage.prompt_tokens).toBe(tokenized.json.count);
    const back = await post('/detokenize', { tokens: tokenized.json.tokens });
    expect(back.json.prompt.trim()).toBe(body.prompt);
  });

  it('streams a completion with usage', async () => {
    const { json: whole } = await post('/v1/completions', { prompt: 'hello', max_tokens: 6, ignore_eos: true, temperature: 0 });
    const streamed = await post('/v1/completions', {
      prompt: 'hello',
      max_tokens: 6,
      ignore_eos: true,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const list = events(streamed.text);
    expect(list.at(-1)).toBe('[DONE]');
    const chunks = list.slice(0, -1);
    expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe(whole.choices[0].text);
    expect(chunks.at(-2).choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1).usage.completion_tokens).toBe(6);
  });

  it('stops at a stop sequence and leaves it out, streamed or not', async () => {
    const body = { prompt: 'stop here', max_tokens: 24, ignore_eos: true, temperature: 0 };
    const { json: free } = await post('/v1/completions', body);
    const full: string = free.choices[0].text;
    expect(full.length).toBeGreaterThan(8);
    const stop = full.slice(5, 7);
    const expected = full.slice(0, full.indexOf(stop));
    const { json: stopped } = await post('/v1/completions', { ...body, stop: [stop, 'never-generated'] });
    expect(stopped.choices[0]).toMatchObject({ text: expected, finish_reason: 'stop' });
    expect(stopped.usage.completion_tokens).toBeLessThan(24);
    const streamed = events((await post('/v1/completions', { ...body, stop, stream: true })).text).slice(0, -1);
    expect(streamed.map((c) => c.choices[0].text).join('')).toBe(expected);
    expect(streamed.at(-1).choices[0].finish_reason).toBe('stop');
  });

  it('embeds a string as a unit vector, the same one every time, counting its tokens', async () => {
    const a = await post('/v1/embeddings', { model: MODEL, input: 'the quick brown fox' });
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ object: 'list', model: MODEL, data: [{ object: 'embedding', index: 0, embedding: expect.any(Array) }] });
    const vector: number[] = a.json.data[0].embedding;
    expect(vector).toHaveLength(64);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    const tokenized = await post('/tokenize', { prompt: 'the quick brown fox' });
    expect(a.json.usage).toEqual({ prompt_tokens: tokenized.json.count, total_tokens: tokenized.json.count });
    const again = await post('/v1/embeddings', { input: 'the quick brown fox' });
    expect(again.json.data[0].embedding).toEqual(vector);
    const other = await post('/v1/embeddings', { input: 'an unrelated sentence' });
    const cosine = vector.reduce((s, x, i) => s + x * other.json.data[0].embedding[i], 0);
    expect(cosine).toBeLessThan(0.99);
  });

  it('embeds a batch in order, each vector as if sent alone, and base64 decodes to the same floats', async () => {
    const inputs = Array.from({ length: 12 }, (_, i) => `sentence number ${i % 5} of the batch`);
    const batch = await post('/v1/embeddings', { input: inputs });
    expect(batch.json.data.map((d: any) => d.index)).toEqual(inputs.map((_, i) => i));
    const singles: any[] = [];
    for (const input of inputs.slice(0, 5)) singles.push((await post('/v1/embeddings', { input })).json);
    inputs.forEach((_, i) => expect(batch.json.data[i].embedding).toEqual(singles[i % 5].data[0].embedding));
    const tokens = inputs.reduce((sum, _, i) => sum + singles[i % 5].usage.prompt_tokens, 0);
    expect(batch.json.usage.prompt_tokens).toBe(tokens);
    const b64 = await post('/v1/embeddings', { input: inputs, encoding_format: 'base64' });
    b64.json.data.forEach((d: any, i: number) => {
      expect(typeof d.embedding).toBe('string');
      expect(Array.from(fromBase64(d.embedding))).toEqual(Array.from(Float32Array.from(batch.json.data[i].embedding)));
    });
    const ids = await post('/tokenize', { prompt: inputs[0] });
    const fromIds = await post('/v1/embeddings', { input: ids.json.tokens });
    expect(fromIds.json.data[0].embedding).toEqual(batch.json.data[0].embedding);
  });

  it('stops generating when a streaming client disconnects, and frees the slot', async () => {
    const before = await counter('vllm:generation_tokens_total');
    const client = new AbortController();
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a long answer', max_tokens: 2000, ignore_eos: true, stream: true }),
      signal: client.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let seen = '';
    while (!seen.includes('"text"')) seen += Buffer.from((await reader.read()).value ?? []).toString('utf8');
    client.abort();
    await until('the slot to be free', async () => (await load())?.running === 0);
    const after = await counter('vllm:generation_tokens_total');
    await new Promise((r) => setTimeout(r, 300));
    expect(await counter('vllm:generation_tokens_total')).toBe(after);
    // 2000 tokens take about two seconds here; the abort came after the first few.
    expect(after - before).toBeLessThan(2000);
    expect(await metrics()).toMatch(/maas_runtime_requests_total\{model_name="tiny-llama",path="\/v1\/completions",status="499"\} [1-9]/);
  });

  it('queues requests beyond its slots and drops a queued one whose client leaves', async () => {
    const long = () => {
      const client = new AbortController();
      const done = fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'keep going', max_tokens: 2000, ignore_eos: true, stream: true }),
        signal: client.signal,
      }).then(
        (r) => r.text().catch(() => ''),
        () => '',
      );
      return { client, done };
    };
    const running = [long(), long()];
    await until('both slots busy', async () => (await load())?.running === 2);
    const queued = long();
    await until('a waiting request', async () => (await load())?.waiting === 1);
    expect((await load())?.kvCacheUsage).toBeGreaterThan(0);
    queued.client.abort();
    await until('the queue to empty', async () => (await load())?.waiting === 0);
    for (const r of running) r.client.abort();
    await Promise.all([...running, queued].map((r) => r.done));
    await until('both slots free', async () => (await load())?.running === 0);
    expect((await load())?.kvCacheUsage).toBe(0);
  });

  it.each([
    ['a temperature out of range', '/v1/chat/completions', { ...chat, temperature: 3 }, 400, 'temperature', 'invalid_value'],
    ['an unknown model', '/v1/chat/completions', { ...chat, model: 'gpt-4o' }, 404, 'model', 'model_not_found'],
    ['an unknown model for embeddings', '/v1/embeddings', { model: 'other', input: 'x' }, 404, 'model', 'model_not_found'],
    [
      'an answer that cannot fit the context',
      '/v1/completions',
      { prompt: 'x', max_tokens: CONTEXT },
      400,
      'max_tokens',
      'context_length_exceeded',
    ],
    [
      'an image for a text model',
      '/v1/chat/completions',
      { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }] },
      400,
      'messages[0].content[0].type',
      'unsupported_value',
    ],
    ['shortened embeddings', '/v1/embeddings', { input: 'x', dimensions: 32 }, 400, 'dimensions', 'unsupported_value'],
    ['a token id outside the vocabulary', '/v1/completions', { prompt: [1, 5000] }, 400, 'prompt', 'invalid_value'],
    ['a body over the limit', '/v1/completions', { prompt: 'x'.repeat(1_200_000) }, 413, null, 'payload_too_large'],
    ['a body that is not JSON', '/v1/completions', '{"prompt":', 400, null, 'invalid_json'],
  ])('answers %s with an OpenAI-shaped error', async (_name, route, body, status, param, code) => {
    const res = await post(route, body);
    expect(res.status).toBe(status);
    expect(res.json).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param, code } });
  });

  it('refuses a prompt longer than the context, naming it', async () => {
    const res = await post('/v1/completions', { prompt: 'the cat sat on the mat. '.repeat(400), max_tokens: 1 });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ param: 'prompt', code: 'context_length_exceeded' });
    expect(res.json.error.message).toMatch(/^This model's maximum context length is 2048 tokens\. However, you requested \d+ tokens/);
  });

  it('stops cleanly on SIGTERM', async () => {
    expect(await engine.stop('SIGTERM')).toBe(0);
    expect(engine.records().some((r) => r.msg === 'stopped')).toBe(true);
  });
});
