import { chatBody, json, MODEL, readSse, sleep, Stack, waitUntil } from './support/stack';

/**
 * The gateway against the real platform: router, key-registry, NATS, PostgreSQL and simulated
 * engines behind `maas worker`. What a client sees, and what lands in the usage stream.
 */
describe('gateway: API, keys, limits and usage', () => {
  const stack = new Stack({ GATEWAY_MAX_BODY_BYTES: String(64 * 1024), GATEWAY_HOLD_TIMEOUT: '3s', GATEWAY_KEY_CACHE_TTL: '1m' });
  let key: string;

  beforeAll(async () => {
    await stack.start();
    await stack.startWorker(['--model', `mapped/qwen=${MODEL}`, '--model', MODEL]);
    key = (await stack.createKey()).secret;
  });

  afterAll(() => stack.stop());

  it('lists the models of ready workers with their capabilities, and fetches one by id', async () => {
    const res = await fetch(stack.url('/v1/models'), { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    const list = await json(res);
    expect(list).toMatchObject({ object: 'list' });
    expect(list.data.map((m: { id: string }) => m.id)).toEqual(['Qwen/Qwen2.5-3B-Instruct', 'mapped/qwen']);
    expect(list.data[0]).toMatchObject({
      object: 'model',
      owned_by: 'Qwen',
      metadata: { capabilities: ['chat', 'completion', 'embedding'], ready_workers: 1, hardware: ['gpu'] },
    });

    const one = await fetch(stack.url(`/v1/models/${encodeURIComponent(MODEL)}`), { headers: { authorization: `Bearer ${key}` } });
    expect(await json(one)).toMatchObject({ id: MODEL });
    const raw = await fetch(stack.url(`/v1/models/${MODEL}`), { headers: { authorization: `Bearer ${key}` } });
    expect(raw.status).toBe(200);
    const missing = await fetch(stack.url('/v1/models/nope'), { headers: { authorization: `Bearer ${key}` } });
    expect(missing.status).toBe(404);
    expect((await json(missing)).error).toMatchObject({ type: 'not_found_error', code: 'model_not_found' });
  });

  it('answers a chat completion and records one usage event with the runtime’s token counts', async () => {
    const res = await stack.post('/v1/chat/completions', key, chatBody(), { 'x-request-id': 'req-test-nonstream-1' });
    expect(res.status).toBe(200);
    const gatewayId = res.headers.get('x-request-id');
    expect(gatewayId).toMatch(/^req-[0-9a-f-]{36}$/); // the gateway's own id; the client's is kept for tracing
    const body = await json(res);
    expect(body).toMatchObject({ object: 'chat.completion', model: MODEL, usage: { completion_tokens: expect.any(Number) } });
    const [event, ...more] = await stack.usageOf('req-test-nonstream-1');
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      requestId: gatewayId,
      clientRequestId: 'req-test-nonstream-1',
      model: MODEL,
      endpoint: 'chat.completions',
      stream: false,
      status: 200,
      errorCode: null,
      tokensCountedBy: 'runtime',
      promptTokens: body.usage.prompt_tokens,
      completionTokens: body.usage.completion_tokens,
      workerId: stack.workers[0].workerId,
      userId: 'ada@example.org',
    });
  });

  it('streams chunk by chunk with the usage chunk when asked, and bills streams on the runtime’s usage when not', async () => {
    const withUsage = await stack.post(
      '/v1/chat/completions',
      key,
      chatBody({ stream: true, stream_options: { include_usage: true }, max_tokens: 20, ignore_eos: true }),
      { 'x-request-id': 'req-test-stream-usage' },
    );
    expect(withUsage.headers.get('content-type')).toMatch(/text\/event-stream/);
    const read = await readSse(withUsage);
    expect(read).toMatchObject({ done: true, cleanClose: true });
    const last = read.events[read.events.length - 1] as { usage: { completion_tokens: number } };
    expect(last.usage.completion_tokens).toBe(20);
    const [event] = await stack.usageOf('req-test-stream-usage');
    expect(event).toMatchObject({ stream: true, status: 200, tokensCountedBy: 'runtime', completionTokens: 20 });
    expect(event.ttftMs).toBeGreaterThan(0);
    expect(event.ttftMs!).toBeLessThanOrEqual(event.latencyMs);

    const bare = await stack.post(
      '/v1/completions',
      key,
      { model: MODEL, prompt: 'Once upon a time', max_tokens: 12, ignore_eos: true, stream: true },
      { 'x-request-id': 'req-test-stream-bare' },
    );
    const bareRead = await readSse(bare);
    expect(bareRead.done).toBe(true);
    // The gateway asked the runtime for usage anyway (billed on its count), and kept that chunk from the client.
    expect(bareRead.events.some((e) => typeof e === 'object' && e !== null && 'usage' in e && (e as { usage: unknown }).usage)).toBe(false);
    const [counted] = await stack.usageOf('req-test-stream-bare');
    expect(counted).toMatchObject({ endpoint: 'completions', tokensCountedBy: 'runtime', completionTokens: 12 });
    expect(counted.promptTokens).toBeGreaterThan(0);
  });

  it('embeds, and maps a public model name to the runtime’s own', async () => {
    const emb = await stack.post('/v1/embeddings', key, { model: MODEL, input: ['one', 'two'] });
    expect(emb.status).toBe(200);
    const embBody = await json(emb);
    expect(embBody.data).toHaveLength(2);

    // The simulator answers 404 for any name but its own: success proves the body was rewritten.
    const mapped = await stack.post('/v1/chat/completions', key, chatBody({ model: 'mapped/qwen' }));
    expect(mapped.status).toBe(200);
  });

  it('answers every refusal in OpenAI’s error shape with the right status', async () => {
    const cases: [string, Promise<Response>, number, Record<string, unknown>][] = [
      ['no key', stack.post('/v1/chat/completions', undefined, chatBody()), 401, { type: 'authentication_error', code: 'missing_api_key' }],
      ['an unknown key', stack.post('/v1/chat/completions', 'sk-nothere1_abc', chatBody()), 401, { code: 'invalid_api_key' }],
      ['not a key at all', stack.post('/v1/chat/completions', 'hello', chatBody()), 401, { code: 'invalid_api_key' }],
      [
        'an unknown model',
        stack.post('/v1/chat/completions', key, chatBody({ model: 'nobody/serves-this' })),
        404,
        { type: 'not_found_error', param: 'model', code: 'model_not_found' },
      ],
      ['bad JSON', stack.post('/v1/chat/completions', key, '{"model":'), 400, { type: 'invalid_request_error', code: 'invalid_json' }],
      ['a missing field', stack.post('/v1/chat/completions', key, { model: MODEL }), 400, { param: 'messages' }],
      ['a bad field', stack.post('/v1/chat/completions', key, chatBody({ max_tokens: -1 })), 400, { param: 'max_tokens' }],
      [
        'a body over the limit',
        stack.post('/v1/chat/completions', key, chatBody({ messages: [{ role: 'user', content: 'x'.repeat(70_000) }] })),
        413,
        { code: 'request_too_large' },
      ],
      ['an unknown path', stack.post('/v1/nothing', key, {}), 404, { code: 'unknown_url' }],
      ['a wrong method', fetch(stack.url('/v1/chat/completions')), 405, { code: 'method_not_allowed' }],
    ];
    for (const [what, pending, status, error] of cases) {
      const res = await pending;
      const body = await json(res);
      expect({ what, status: res.status, error: body.error }).toMatchObject({
        what,
        status,
        error: { message: expect.any(String), ...error },
      });
    }
  });

  it('refuses models outside the key’s globs with 403', async () => {
    const narrow = await stack.createKey({ allowedModels: ['mapped/*'] });
    const denied = await stack.post('/v1/chat/completions', narrow.secret, chatBody());
    expect(denied.status).toBe(403);
    expect((await json(denied)).error).toMatchObject({ type: 'permission_error', code: 'model_not_allowed', param: 'model' });
    expect((await stack.post('/v1/chat/completions', narrow.secret, chatBody({ model: 'mapped/qwen' }))).status).toBe(200);
    const listed = await json(await fetch(stack.url('/v1/models'), { headers: { authorization: `Bearer ${narrow.secret}` } }));
    expect(listed.data.map((m: { id: string }) => m.id)).toEqual(['mapped/qwen']);
  });

  it('drops a revoked key within a second, although its positive cache entry would last a minute', async () => {
    const k = await stack.createKey({ name: 'to-revoke' });
    expect((await stack.post('/v1/chat/completions', k.secret, chatBody())).status).toBe(200);
    await stack.bus.request('key-registry.revoke', { keyId: k.keyId });
    const started = Date.now();
    const status = await waitUntil(
      async () => {
        const s = (await stack.post('/v1/chat/completions', k.secret, chatBody())).status;
        return s === 401 ? s : undefined;
      },
      2000,
      'revocation to take effect',
    );
    expect(status).toBe(401);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('limits requests per minute and concurrent requests with 429, Retry-After, and the limit named', async () => {
    const rpm = await stack.createKey({ limits: { requestsPerMinute: 2 } });
    expect((await stack.post('/v1/chat/completions', rpm.secret, chatBody())).status).toBe(200);
    expect((await stack.post('/v1/chat/completions', rpm.secret, chatBody())).status).toBe(200);
    const limited = await stack.post('/v1/chat/completions', rpm.secret, chatBody(), { 'x-request-id': 'req-test-429-rpm' });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const err = (await json(limited)).error;
    expect(err).toMatchObject({ type: 'rate_limit_error', code: 'requests_per_minute_exceeded' });
    expect(err.message).toMatch(/requests per minute: used 2, limit 2/);
    expect((await stack.usageOf('req-test-429-rpm'))[0]).toMatchObject({ status: 429, errorCode: 'requests_per_minute_exceeded' });

    const one = await stack.createKey({ limits: { maxConcurrent: 1 } });
    const long = await stack.post('/v1/chat/completions', one.secret, chatBody({ stream: true, max_tokens: 400, ignore_eos: true }));
    const second = await stack.post('/v1/chat/completions', one.secret, chatBody());
    expect(second.status).toBe(429);
    expect((await json(second)).error.message).toMatch(/concurrent requests: used 1, limit 1/);
    await readSse(long);
    expect((await stack.post('/v1/chat/completions', one.secret, chatBody())).status).toBe(200);
  });

  it('aborts the upstream request when the client goes away, and accounts it as 499', async () => {
    const res = await stack.post('/v1/chat/completions', key, chatBody({ stream: true, max_tokens: 3000, ignore_eos: true }), {
      'x-request-id': 'req-test-client-gone',
    });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    const worker = stack.workers[0];
    const running = async () => {
      const text = await (await fetch(`${worker.url}/metrics`)).text();
      return Number(/^vllm:num_requests_running\{[^}]*\} (\S+)/m.exec(text)?.[1] ?? NaN);
    };
    await waitUntil(async () => (await running()) === 0, 2000, 'the runtime to drop the request');
    const [event] = await stack.usageOf('req-test-client-gone');
    expect(event).toMatchObject({ status: 499, errorCode: 'client_closed_request', stream: true, tokensCountedBy: 'gateway' });
  });

  it('holds a request while its model’s worker starts, then serves it', async () => {
    const started = Date.now();
    const pending = stack.post('/v1/chat/completions', key, chatBody({ model: 'late/model' }), { 'x-request-id': 'req-test-held' });
    // The model is not known yet: a 404 comes at once.
    expect((await pending).status).toBe(404);
    const late = await stack.startWorker(['--sim-model', 'late/model', '--sim-startup-delay', '2s']);
    const registeredAt = Date.now();
    const held = await stack.post('/v1/chat/completions', key, chatBody({ model: 'late/model' }));
    expect(held.status).toBe(200);
    const heldMs = Date.now() - registeredAt;
    expect(heldMs).toBeGreaterThan(1000); // it waited for the start-up…
    expect(heldMs).toBeLessThan(3500); // …and not for the whole hold timeout
    expect(Date.now() - started).toBeLessThan(30_000);

    await late.stop('SIGKILL');
    await stack.gateway.waitFor(
      (r) => ['worker expired locally (no heartbeat)', 'worker left'].includes(String(r.msg)) && r.workerId === late.workerId,
      10_000,
    );
    const t0 = Date.now();
    const gone = await stack.post('/v1/chat/completions', key, chatBody({ model: 'late/model' }));
    expect(gone.status).toBe(503);
    expect(Number(gone.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await json(gone)).error).toMatchObject({ type: 'service_unavailable_error', code: 'no_capacity' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2900); // held for GATEWAY_HOLD_TIMEOUT first
  });

  it('serves /health and Prometheus /metrics through Nest', async () => {
    expect(await json(await fetch(stack.url('/health')))).toMatchObject({ status: 'ok' });
    const metrics = await (await fetch(stack.url('/metrics'))).text();
    expect(metrics).toMatch(
      /maas_gateway_requests_total\{model="Qwen\/Qwen2.5-3B-Instruct",endpoint="chat.completions",kind="interactive",status="200"[^}]*\} \d+/,
    );
    expect(metrics).toMatch(/maas_gateway_usage_events_published_total(\{[^}]*\})? \d+/);
  });

  it('stored exactly one usage event per authenticated request', async () => {
    await sleep(300);
    const events = await stack.usageEvents();
    const ids = events.map((e) => e.requestId);
    expect(new Set(ids).size).toBe(ids.length);
    const statuses = new Set(events.map((e) => e.status));
    for (const s of [200, 400, 403, 404, 413, 429, 499, 503]) expect(statuses).toContain(s);
  });
});
