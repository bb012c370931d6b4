import { chatBody, json, MODEL, readSse, Stack, waitUntil } from './support/stack';

/** One sample line of the Prometheus text format: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The samples of `name` whose labels include `where`. */
const select = (samples: Sample[], name: string, where: Record<string, string>) =>
  samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));

/** The response's x-ratelimit-* headers. */
function rateLimitHeaders(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name.startsWith('x-ratelimit-')) out[name] = value;
  });
  return out;
}

const one = (samples: Sample[], name: string, where: Record<string, string>): number => {
  const found = select(samples, name, where);
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(where)}`);
  return found[0].value;
};

/** OpenAI's reset notation: 20ms, 1s, 1.5s, 6m0s, 1h0m30s. */
const RESET = /^(\d+ms|(\d+h)?(\d+m)?\d+(\.\d+)?s)$/;

describe('gateway: Prometheus metrics per model and OpenAI rate-limit headers', () => {
  const stack = new Stack();
  let limited: string;
  let unlimited: string;

  beforeAll(async () => {
    await stack.start();
    await stack.startWorker();
    limited = (await stack.createKey({ limits: { requestsPerMinute: 3, tokensPerMinute: 100_000 } })).secret;
    unlimited = (await stack.createKey()).secret;
  });

  afterAll(() => stack.stop());

  it('answers every response of a key with limits with the x-ratelimit headers, and 429 with Retry-After', async () => {
    const streamed = await stack.post(
      '/v1/chat/completions',
      limited,
      chatBody({ stream: true, stream_options: { include_usage: true }, max_tokens: 16, ignore_eos: true }),
    );
    expect(streamed.status).toBe(200);
    expect(rateLimitHeaders(streamed)).toEqual({
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '2',
      'x-ratelimit-reset-requests': expect.stringMatching(RESET),
      'x-ratelimit-limit-tokens': '100000',
      'x-ratelimit-remaining-tokens': '100000',
      'x-ratelimit-reset-tokens': '0s',
    });
    const read = await readSse(streamed);
    const usage = (read.events[read.events.length - 1] as { usage: { total_tokens: number } }).usage;

    const second = await stack.post('/v1/chat/completions', limited, chatBody());
    expect(second.status).toBe(200);
    expect(second.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    // The first request's tokens now count against the minute.
    expect(Number(second.headers.get('x-ratelimit-remaining-tokens'))).toBe(100_000 - usage.total_tokens);
    expect(second.headers.get('x-ratelimit-reset-tokens')).toMatch(RESET);
    await second.json();

    const third = await stack.post('/v1/chat/completions', limited, chatBody());
    expect(third.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    await third.json();

    const refused = await stack.post('/v1/chat/completions', limited, chatBody());
    expect(refused.status).toBe(429);
    expect((await json(refused)).error).toMatchObject({ type: 'rate_limit_error', code: 'requests_per_minute_exceeded' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('x-ratelimit-limit-requests')).toBe('3');
    expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const reset = refused.headers.get('x-ratelimit-reset-requests')!;
    expect(reset).toMatch(RESET);
    expect(reset).not.toBe('0s');

    // Reading the model list or the usage counts against nothing, but says where the key stands.
    const models = await fetch(stack.url('/v1/models'), { headers: { authorization: `Bearer ${limited}` } });
    expect(models.headers.get('x-ratelimit-remaining-requests')).toBe('0');

    const free = await stack.post('/v1/chat/completions', unlimited, chatBody());
    expect(free.status).toBe(200);
    expect(rateLimitHeaders(free)).toEqual({});
  });

  it('exports histograms and counters by model, with models nobody serves under one label', async () => {
    for (const invented of ['nobody/invented-1', 'nobody/invented-2', 'x'.repeat(200)]) {
      expect((await stack.post('/v1/chat/completions', unlimited, chatBody({ model: invented }))).status).toBe(404);
    }
    // Usage leaves the gateway in batches (up to 50 ms apart): wait until the four served requests are stored.
    const served = await waitUntil(
      async () => {
        const stored = (await stack.usageEvents()).filter((e) => e.model === MODEL && e.workerId !== null);
        return stored.length >= 4 ? stored : undefined;
      },
      10_000,
      'usage events of the four served requests',
    );
    expect(served).toHaveLength(4); // three of the limited key, one of the other

    const text = await (await fetch(stack.url('/metrics'))).text();
    expect(text).not.toContain('nobody/invented');
    expect(text).not.toContain('x'.repeat(200));
    // Which service and replica is Prometheus's to label (job, instance): no label of the process's own.
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).not.toMatch(/[{,](service|job|instance)="/);
    const samples = parseMetrics(text);
    const model = { model: MODEL };

    expect(
      one(samples, 'maas_gateway_requests_total', { ...model, endpoint: 'chat.completions', kind: 'interactive', status: '200' }),
    ).toBe(4);
    expect(
      one(samples, 'maas_gateway_requests_total', { ...model, endpoint: 'chat.completions', kind: 'interactive', status: '429' }),
    ).toBe(1);
    expect(
      one(samples, 'maas_gateway_requests_total', { model: 'other', endpoint: 'chat.completions', kind: 'interactive', status: '404' }),
    ).toBe(3);
    expect(
      select(samples, 'maas_gateway_requests_total', {})
        .map((s) => s.labels.model)
        .sort(),
    ).toEqual(['Qwen/Qwen2.5-3B-Instruct', 'Qwen/Qwen2.5-3B-Instruct', 'other']);

    const output = served.reduce((n, e) => n + e.completionTokens, 0);
    const input = served.reduce((n, e) => n + e.promptTokens, 0);
    expect(one(samples, 'maas_gateway_tokens_total', { ...model, direction: 'output', kind: 'interactive' })).toBe(output);
    expect(one(samples, 'maas_gateway_tokens_total', { ...model, direction: 'input', kind: 'interactive' })).toBe(input);

    // Histograms: cumulative buckets ending at +Inf with the count; only requests sent to a worker have a latency.
    const histogram = (name: string, where: Record<string, string>, count: number) => {
      const buckets = select(samples, `${name}_bucket`, where);
      expect(buckets.length).toBeGreaterThan(5);
      const values = buckets.map((b) => b.value);
      expect(values).toEqual([...values].sort((a, b) => a - b));
      expect(buckets[buckets.length - 1].labels.le).toBe('+Inf');
      expect(values[values.length - 1]).toBe(count);
      expect(one(samples, `${name}_count`, where)).toBe(count);
      expect(one(samples, `${name}_sum`, where)).toBeGreaterThan(0);
      return buckets;
    };
    histogram('maas_gateway_request_duration_seconds', { ...model, endpoint: 'chat.completions', kind: 'interactive' }, 4);
    histogram('maas_gateway_request_queue_time_seconds', { ...model, kind: 'interactive' }, 4);
    const ttft = histogram('maas_gateway_time_to_first_token_seconds', model, 1);
    const tpot = histogram('maas_gateway_time_per_output_token_seconds', model, 1);
    // The simulated A100 answers the first token in well under a second, and each next one in a few ms.
    expect(ttft.find((b) => b.labels.le === '1')!.value).toBe(1);
    expect(tpot.find((b) => b.labels.le === '0.1')!.value).toBe(1);
    expect(select(samples, 'maas_gateway_request_duration_seconds_count', { model: 'other' })).toEqual([]);
  });
});
