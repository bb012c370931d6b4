import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError, PermissionDeniedError, RateLimitError } from 'openai';
import { MODEL, Stack, waitUntil, Worker } from '../services/gateway/test/support/stack';

/**
 * The data plane as a user's script sees it: the official OpenAI SDK (v6) against the gateway,
 * with router, key-registry and simulated-engine workers running for real.
 */
describe('data plane through the OpenAI SDK', () => {
  const stack = new Stack({ GATEWAY_HOLD_TIMEOUT: '2s' });
  let client: OpenAI;
  let doomed: Worker;
  const sdk = (apiKey: string, options: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) =>
    new OpenAI({ apiKey, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0, timeout: 30_000, ...options });

  beforeAll(async () => {
    await stack.start();
    [, doomed] = await Promise.all([stack.startWorker(), stack.startWorker(['--sim-model', 'e2e/doomed'])]);
    client = sdk((await stack.createKey({ name: 'e2e' })).secret);
  });

  afterAll(() => stack.stop());

  it('lists and retrieves models', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(expect.arrayContaining([MODEL, 'e2e/doomed']));
    const model = await client.models.retrieve(MODEL);
    expect(model).toMatchObject({ id: MODEL, object: 'model', owned_by: 'Qwen' });
  });

  it('chats without streaming', async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Hello!' }],
      max_tokens: 16,
    });
    expect(completion.choices[0].message.role).toBe('assistant');
    expect(completion.choices[0].message.content!.length).toBeGreaterThan(0);
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
    const { data, response } = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    const requestId = response.headers.get('x-request-id')!;
    expect((await stack.usageOf(requestId))[0]).toMatchObject({ status: 200, stream: false, tokensCountedBy: 'runtime' });
  });

  it('chats with streaming, token by token, ending with the usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Count to ten.' }],
      max_tokens: 32,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('completes text and embeds', async () => {
    const completion = await client.completions.create({ model: MODEL, prompt: 'The capital of Japan is', max_tokens: 8 });
    expect(completion.choices[0].text.length).toBeGreaterThan(0);

    const streamed = await client.completions.create({ model: MODEL, prompt: 'Once', max_tokens: 8, stream: true });
    let text = '';
    for await (const chunk of streamed) text += chunk.choices[0]?.text ?? '';
    expect(text.length).toBeGreaterThan(0);

    // The SDK asks for base64 by default and decodes it; floats when asked.
    const embedded = await client.embeddings.create({ model: MODEL, input: ['research data', 'stays on campus'] });
    expect(embedded.data).toHaveLength(2);
    expect(embedded.data[0].embedding.length).toBeGreaterThan(16);
    const floats = await client.embeddings.create({ model: MODEL, input: 'research data', encoding_format: 'float' });
    expect(floats.data[0].embedding).toHaveLength(embedded.data[0].embedding.length);
    floats.data[0].embedding.forEach((v, i) => expect(v).toBeCloseTo(embedded.data[0].embedding[i], 5));
  });

  it('raises the SDK’s error classes: 401, 403, 404, 400, 429', async () => {
    await expect(sdk('sk-notakey0_aaaaaaaaaaaaaaaaaaaaaaaa').models.list()).rejects.toBeInstanceOf(AuthenticationError);
    await expect(
      client.chat.completions.create({ model: 'no/such-model', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toBeInstanceOf(NotFoundError);

    const bad = await client.chat.completions.create({ model: MODEL, messages: [] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BadRequestError);
    expect((bad as BadRequestError).param).toBe('messages');

    const narrow = sdk((await stack.createKey({ allowedModels: ['e2e/*'] })).secret);
    await expect(narrow.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(
      PermissionDeniedError,
    );

    const limited = sdk((await stack.createKey({ limits: { requestsPerMinute: 1 } })).secret);
    await limited.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
    const refused = await limited.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 2 })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitError);
    expect((refused as RateLimitError).code).toBe('requests_per_minute_exceeded');
    expect(Number((refused as RateLimitError).headers?.get('retry-after'))).toBeGreaterThan(0);
  });

  it('turns a worker dying mid-stream into an APIError from the stream, not a hang', async () => {
    const stream = await client.chat.completions.create({
      model: 'e2e/doomed',
      messages: [{ role: 'user', content: 'Write a long story.' }],
      max_tokens: 5000,
      stream: true,
      // vLLM's extension: generate max_tokens exactly
      ...({ ignore_eos: true } as object),
    });
    let chunks = 0;
    const started = Date.now();
    const failure = await (async () => {
      for await (const _chunk of stream) {
        if (++chunks === 3) void doomed.stop('SIGKILL');
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).message).toMatch(/closed the connection/);
    expect(Date.now() - started).toBeLessThan(5000);

    // The next request for that model waits for capacity, then gets a 503 (no worker left).
    const next = await client.chat.completions
      .create({ model: 'e2e/doomed', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(next).toBeInstanceOf(APIError);
    expect((next as APIError).status).toBe(503);
  });

  it('keeps working for the other model, and accounted every request exactly once', async () => {
    const ok = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'still there?' }], max_tokens: 4 });
    expect(ok.choices).toHaveLength(1);
    const events = await waitUntil(
      async () => {
        const all = await stack.usageEvents();
        return all.some((e) => e.status === 503) ? all : undefined;
      },
      5000,
      'usage events',
    );
    const ids = events.map((e) => e.requestId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(events.filter((e) => e.status === 502 && e.errorCode === 'upstream_disconnected')).toHaveLength(1);
  });
});
