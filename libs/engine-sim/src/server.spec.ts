import { findProfile } from './profiles';
import { SimServer, startSimServer } from './server';
import { countTokens } from './tokens';

const profile = findProfile('a100-qwen2.5-3b');
const MODEL = profile.model;

interface SseChunk {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: Array<{ index: number; delta?: { role?: string; content?: string }; text?: string; finish_reason: string | null }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}

/** Splits an SSE body into its data payloads; the [DONE] marker stays a string. */
function sse(body: string): Array<SseChunk | '[DONE]'> {
  return body
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => (e === 'data: [DONE]' ? '[DONE]' : (JSON.parse(e.slice(6)) as SseChunk)));
}

describe('sim-engine HTTP server', () => {
  let server: SimServer;
  const post = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    server = await startSimServer({ profile, port: 0, startupSeconds: 0, timeScale: 50 });
    await server.ready;
  });
  afterAll(() => server.close());

  it('lists its model', async () => {
    const res = await fetch(`${server.url}/v1/models`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ object: 'list', data: [{ id: MODEL, object: 'model', max_model_len: profile.maxModelLen }] });
  });

  it('streams a chat completion token by token, with a usage chunk and [DONE]', async () => {
    const res = await post('/v1/chat/completions', {
      model: MODEL,
      messages: [{ role: 'user', content: 'Say something.' }],
      max_completion_tokens: 12,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sse(await res.text());
    expect(events[events.length - 1]).toBe('[DONE]');
    const chunks = events.slice(0, -1) as SseChunk[];
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    for (const c of chunks) expect(c).toMatchObject({ id: chunks[0].id, object: 'chat.completion.chunk', model: MODEL });
    expect(chunks[0].id).toMatch(/^chatcmpl-/);
    const content = chunks.filter((c) => c.choices[0]?.delta?.content);
    expect(content).toHaveLength(12);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(finish?.choices[0].finish_reason).toBe('length');
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({
      prompt_tokens: countTokens('<|im_start|>user\nSay something.<|im_end|>\n<|im_start|>assistant\n'),
      completion_tokens: 12,
    });
    expect(last.usage!.total_tokens).toBe(last.usage!.prompt_tokens + 12);
  });

  it('answers a chat completion in one body, stopping by itself without ignore_eos', async () => {
    const res = await post('/v1/chat/completions', {
      model: MODEL,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
      max_tokens: 5000,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      object: string;
      choices: Array<{ message: { role: string; content: string }; finish_reason: string }>;
      usage: { completion_tokens: number };
    };
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0].message.role).toBe('assistant');
    expect(body.choices[0].finish_reason).toBe('stop');
    const [lo, hi] = profile.naturalOutputTokens;
    expect(body.usage.completion_tokens).toBeGreaterThanOrEqual(lo);
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(hi);
    expect(countTokens(body.choices[0].message.content)).toBe(body.usage.completion_tokens);
  });

  it('serves legacy completions from token ids, streamed and not', async () => {
    const plain = await post('/v1/completions', { model: MODEL, prompt: [1, 2, 3, 4, 5], max_tokens: 4 });
    const body = (await plain.json()) as {
      id: string;
      object: string;
      choices: Array<{ text: string; finish_reason: string }>;
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    expect(body).toMatchObject({ object: 'text_completion', usage: { prompt_tokens: 5, completion_tokens: 4 } });
    expect(body.id).toMatch(/^cmpl-/);
    expect(body.choices[0].finish_reason).toBe('length');
    const streamed = sse(await (await post('/v1/completions', { prompt: 'Once upon a time', max_tokens: 3, stream: true })).text());
    const texts = (streamed.filter((c) => c !== '[DONE]') as SseChunk[]).map((c) => c.choices[0].text).filter(Boolean);
    expect(texts.join('')).toBe(body.choices[0].text.length > 0 ? texts.join('') : '');
    expect(texts).toHaveLength(3);
    expect(streamed[streamed.length - 1]).toBe('[DONE]');
  });

  it('embeds a batch of inputs as floats or base64', async () => {
    const res = await post('/v1/embeddings', { model: MODEL, input: ['first text', 'second text'] });
    const body = (await res.json()) as {
      object: string;
      data: Array<{ index: number; embedding: number[] }>;
      usage: { prompt_tokens: number; total_tokens: number };
    };
    expect(body.object).toBe('list');
    expect(body.data.map((d) => d.index)).toEqual([0, 1]);
    expect(body.data[0].embedding).toHaveLength(profile.embeddingDimension);
    expect(body.usage).toEqual({ prompt_tokens: countTokens('first text') + countTokens('second text'), total_tokens: 6 });
    const b64 = (await (await post('/v1/embeddings', { input: 'first text', encoding_format: 'base64', dimensions: 16 })).json()) as {
      data: Array<{ embedding: string }>;
    };
    expect(Buffer.from(b64.data[0].embedding, 'base64')).toHaveLength(16 * 4);
  });

  it.each([
    ['/v1/chat/completions', { model: MODEL }, 400, 'messages'],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], max_tokens: 0 }, 400, 'max_tokens'],
    ['/v1/chat/completions', { messages: [{ content: 'x' }] }, 400, 'messages[0].role'],
    [
      '/v1/chat/completions',
      { messages: [{ role: 'user', content: 'x' }], stream_options: { include_usage: true } },
      400,
      'stream_options',
    ],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], max_tokens: 10_000_000 }, 400, 'messages'],
    ['/v1/chat/completions', { model: 'no/such-model', messages: [{ role: 'user', content: 'x' }] }, 404, 'model'],
    ['/v1/completions', { prompt: ['a', 'b'] }, 400, 'prompt'],
    ['/v1/embeddings', { input: 'x', encoding_format: 'hex' }, 400, 'encoding_format'],
    ['/v1/chat/completions', '{not json', 400, null],
  ])('POST %s %j → %d naming %s', async (path, body, status, param) => {
    const res = await post(path, body);
    expect(res.status).toBe(status);
    const error = ((await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } }).error;
    expect(error.param).toBe(param);
    expect(typeof error.message).toBe('string');
    expect(error.type).toBe('invalid_request_error');
    expect(error).toHaveProperty('code');
  });

  it('answers unknown routes with a 404 in the same error shape', async () => {
    const res = await fetch(`${server.url}/v2/nothing`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  it('cancels a request whose client disconnects, freeing its batch slot', async () => {
    const controller = new AbortController();
    const before = server.runtime.snapshot().requestsCancelled;
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({
        messages: [{ role: 'user', content: 'long answer please' }],
        max_tokens: 20000,
        ignore_eos: true,
        stream: true,
      }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    expect(server.runtime.snapshot().running).toBe(1);
    controller.abort();
    for (let i = 0; i < 100 && server.runtime.snapshot().running > 0; i += 1) await new Promise((r) => setTimeout(r, 10));
    const snap = server.runtime.snapshot();
    expect(snap.running).toBe(0);
    expect(snap.requestsCancelled).toBe(before + 1);
  });

  it('exposes vLLM metrics for what it served', async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const label = `model_name="${MODEL}"`;
    expect(text).toContain(`vllm:num_requests_running{${label}} 0`);
    expect(text).toMatch(
      new RegExp(`vllm:request_success_total\\{finished_reason="length",${label.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\} [1-9]`),
    );
    expect(text).toMatch(/vllm:generation_tokens_total\{[^}]*\} [1-9]\d*/);
    expect(text).toMatch(/vllm:time_to_first_token_seconds_count\{[^}]*\} [1-9]/);
  });
});

describe('sim-engine HTTP server lifecycle and failures', () => {
  it('answers 503 on /health until the start-up delay has passed', async () => {
    const server = await startSimServer({ profile, port: 0, startupSeconds: 3, timeScale: 10 });
    try {
      expect((await fetch(`${server.url}/health`)).status).toBe(503);
      const early = await fetch(`${server.url}/v1/models`);
      expect(early.status).toBe(503);
      expect(((await early.json()) as { error: { code: string } }).error.code).toBe('engine_starting');
      await server.ready;
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('returns injected failures as 500s in the OpenAI error shape', async () => {
    const server = await startSimServer({ profile, port: 0, startupSeconds: 0, timeScale: 50, faults: { errorRate: 1 } });
    try {
      await server.ready;
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }),
      });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({
        error: { message: 'injected server error', type: 'server_error', param: null, code: 'internal_error' },
      });
    } finally {
      await server.close();
    }
  });

  it('breaks a stream off with an error event when generation fails midway', async () => {
    const server = await startSimServer({ profile, port: 0, startupSeconds: 0, timeScale: 50, faults: { abortRate: 1 } });
    try {
      await server.ready;
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }], max_tokens: 50, ignore_eos: true, stream: true }),
      });
      expect(res.status).toBe(200);
      const events = sse(await res.text());
      expect(events[events.length - 1]).toBe('[DONE]');
      const error = events[events.length - 2] as unknown as { error: { type: string; code: string } };
      expect(error.error).toMatchObject({ type: 'server_error', code: 'internal_error' });
      const tokens = (events.slice(0, -2) as SseChunk[]).filter((c) => c.choices[0]?.delta?.content);
      expect(tokens.length).toBeGreaterThan(0);
      expect(tokens.length).toBeLessThan(50);
    } finally {
      await server.close();
    }
  });

  it('reports a crash and then refuses work with 503', async () => {
    const server = await startSimServer({ profile, port: 0, startupSeconds: 0, timeScale: 50, faults: { crashAfterRequests: 1 } });
    try {
      await server.ready;
      const body = JSON.stringify({ messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
      expect((await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body })).status).toBe(200);
      await expect(server.crashed).resolves.toMatch(/crashed after 1 requests/);
      expect((await fetch(`${server.url}/health`)).status).toBe(503);
      expect((await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body })).status).toBe(503);
    } finally {
      await server.close();
    }
  });
});

describe('sim-engine HTTP server with a key, as vLLM with --api-key', () => {
  const KEY = 'runtime-key-0123456789';
  let server: SimServer;
  const chat = (authorization?: string) =>
    fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }], max_tokens: 2 }),
    });

  beforeAll(async () => {
    server = await startSimServer({ profile, port: 0, startupSeconds: 0, timeScale: 50, apiKey: KEY });
    await server.ready;
  });
  afterAll(() => server.close());

  it.each([
    ['no Authorization header', undefined, 'missing_runtime_key'],
    ['a wrong key', 'Bearer runtime-key-0123456788', 'invalid_runtime_key'],
    ['a longer key starting with the right one', `Bearer ${KEY}0`, 'invalid_runtime_key'],
    ['the key as Basic credentials', `Basic ${KEY}`, 'missing_runtime_key'],
  ])('refuses a chat with %s: 401 in the OpenAI shape, naming no key', async (_name, authorization, code) => {
    const res = await chat(authorization);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { message: expect.any(String), type: 'authentication_error', param: null, code } });
    expect(text).not.toContain(KEY);
  });

  it('refuses every other path without the key, even one it does not serve', async () => {
    for (const path of ['/v1/models', '/v1/nothing-here'])
      expect({ path, status: (await fetch(`${server.url}${path}`)).status }).toEqual({ path, status: 401 });
    const embed = await fetch(`${server.url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ input: 'x' }) });
    expect(embed.status).toBe(401);
  });

  it('serves a caller with the key', async () => {
    expect((await chat(`Bearer ${KEY}`)).status).toBe(200);
    expect((await fetch(`${server.url}/v1/models`, { headers: { authorization: `bearer ${KEY}` } })).status).toBe(200);
  });

  it('leaves /health and /metrics open, as vLLM does', async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('vllm:num_requests_running');
  });
});
