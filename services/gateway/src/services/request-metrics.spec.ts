import { register } from 'prom-client';
import { InteractiveLatency, MAX_MODEL_LABELS, onInteractiveLatency, RequestMetrics } from './request-metrics';
import type { RequestRecord } from './usage.service';

const record = (over: Partial<RequestRecord>): RequestRecord =>
  ({
    model: 'm',
    route: { endpoint: 'chat.completions' },
    kind: 'interactive',
    promptTokens: 0,
    completionTokens: 0,
    queueMs: null,
    ttftMs: null,
    ...over,
  }) as RequestRecord;

/** One sample of the exposition; `name` may be a histogram's _bucket, _sum or _count line. */
const sample = async (name: string, labels: string) => {
  const family = name.replace(/_(bucket|sum|count)$/, '');
  const line = (await register.getSingleMetricAsString(family)).split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
};

describe('RequestMetrics', () => {
  it('labels only models the gateway knows, up to the cap; every other name is "other"', () => {
    const known = new Set(Array.from({ length: MAX_MODEL_LABELS + 10 }, (_, i) => `served/model-${i}`));
    const metrics = new RequestMetrics({ knownModel: (m) => (known.has(m) ? {} : undefined) });
    const labels = new Set([...known].map((m) => metrics.modelLabel(m)));
    expect(labels.size).toBe(MAX_MODEL_LABELS + 1);
    expect(labels).toContain('other');
    expect(metrics.modelLabel('served/model-0')).toBe('served/model-0');
    expect(metrics.modelLabel(`served/model-${MAX_MODEL_LABELS + 5}`)).toBe('other');
    expect(metrics.modelLabel('made-up')).toBe('other');
  });

  it('counts every request and its tokens; latencies only of requests a worker was sent, TPOT only of streams that finished', async () => {
    const metrics = new RequestMetrics({ knownModel: (m) => (m === 'unit/model' ? {} : undefined) });
    metrics.observe(record({ model: 'unit/model', promptTokens: 10, completionTokens: 21, queueMs: 4, ttftMs: 100 }), 200, 300); // TPOT (300-100)/20 ms
    metrics.observe(record({ model: 'unit/model', promptTokens: 5, completionTokens: 3, queueMs: 2, ttftMs: 50 }), 499, 80); // cut short: no TPOT
    metrics.observe(record({ model: 'unit/model' }), 429, 1); // refused before any worker
    metrics.observe(record({ model: 'invented' }), 404, 1);

    const m = 'model="unit/model"';
    expect(await sample('maas_gateway_requests_total', `${m},endpoint="chat.completions",kind="interactive",status="200"`)).toBe(1);
    expect(await sample('maas_gateway_requests_total', `${m},endpoint="chat.completions",kind="interactive",status="429"`)).toBe(1);
    expect(await sample('maas_gateway_requests_total', 'model="other",endpoint="chat.completions",kind="interactive",status="404"')).toBe(
      1,
    );
    expect(await sample('maas_gateway_tokens_total', `${m},direction="input",kind="interactive"`)).toBe(15);
    expect(await sample('maas_gateway_tokens_total', `${m},direction="output",kind="interactive"`)).toBe(24);
    expect(await sample('maas_gateway_request_duration_seconds_count', `${m},endpoint="chat.completions",kind="interactive"`)).toBe(2);
    expect(await sample('maas_gateway_request_duration_seconds_sum', `${m},endpoint="chat.completions",kind="interactive"`)).toBeCloseTo(
      0.38,
    );
    expect(await sample('maas_gateway_request_queue_time_seconds_bucket', `le="0.005",${m},kind="interactive"`)).toBe(2);
    expect(await sample('maas_gateway_time_to_first_token_seconds_bucket', `le="0.05",${m}`)).toBe(1);
    expect(await sample('maas_gateway_time_to_first_token_seconds_count', m)).toBe(2);
    expect(await sample('maas_gateway_time_per_output_token_seconds_count', m)).toBe(1);
    expect(await sample('maas_gateway_time_per_output_token_seconds_sum', m)).toBeCloseTo(0.01);
    expect(
      await sample('maas_gateway_request_duration_seconds_count', 'model="other",endpoint="chat.completions",kind="interactive"'),
    ).toBeUndefined();
  });

  it('hands the latency of interactive requests that streamed a token to its listeners, until they leave', () => {
    const metrics = new RequestMetrics({ knownModel: () => ({}) });
    const seen: InteractiveLatency[] = [];
    const leave = onInteractiveLatency((l) => seen.push(l));
    metrics.observe(record({ workerId: 'w1', t0: 1000, completionTokens: 11, queueMs: 1, ttftMs: 200 }), 200, 700);
    metrics.observe(record({ workerId: 'w2', t0: 2000, completionTokens: 1, queueMs: 1, ttftMs: 90 }), 200, 95);
    metrics.observe(record({ kind: 'batch', workerId: 'w1', t0: 3000, completionTokens: 11, queueMs: 1, ttftMs: 100 }), 200, 500);
    metrics.observe(record({ workerId: 'w1', t0: 4000, completionTokens: 11, queueMs: 1 }), 200, 500); // not streamed: no TTFT
    leave();
    metrics.observe(record({ workerId: 'w1', t0: 5000, completionTokens: 11, queueMs: 1, ttftMs: 100 }), 200, 500);
    expect(seen).toEqual([
      { model: 'm', workerId: 'w1', firstTokenAt: 1200, ttftMs: 200, tpotMs: 50 },
      { model: 'm', workerId: 'w2', firstTokenAt: 2090, ttftMs: 90, tpotMs: undefined },
    ]);
  });
});
