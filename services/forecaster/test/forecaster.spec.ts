import { JSONCodec, NatsConnection } from 'nats';
import { ForecastPublished, Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import { factory, startService, StartedService, testNamespace, testNats, testNatsUrl } from '@maas/testing';

describe('forecaster against real NATS', () => {
  const namespace = testNamespace();
  let nc: NatsConnection;
  let bus: MessageBus;
  let svc: StartedService;

  beforeAll(async () => {
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    svc = await startService('forecaster', {
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: namespace,
      FORECAST_STEP_MS: '1m',
      FORECAST_HORIZON_MS: '5m',
    });
  });

  afterAll(async () => {
    await svc?.stop();
    await nc?.close();
  });

  it('turns 10 s aggregates into per-step forecasts over the horizon, with an upper band and its method', async () => {
    const forecasts: ForecastPublished[] = [];
    nc.subscribe(new Subjects(namespace).subject('forecast.published'), {
      callback: (_e, m) => forecasts.push(JSONCodec<ForecastPublished>().decode(m.data)),
    });
    const t0 = Date.parse('2026-03-02T09:00:00Z');
    // 20 minutes of a ramp from 1 to 3 req/s, as 10 s aggregates.
    for (let i = 0; i < 120; i += 1) {
      bus.publish(
        'metric.aggregated',
        factory.metricAggregated({
          model: 'm-ramp',
          intervalStart: new Date(t0 + i * 10_000).toISOString(),
          intervalSeconds: 10,
          requestRate: 1 + i / 60,
        }),
      );
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && forecasts.length < 19) await new Promise((r) => setTimeout(r, 50));
    expect(forecasts.length).toBe(19); // one per completed minute after the first
    const last = forecasts[forecasts.length - 1];
    expect(last.model).toBe('m-ramp');
    expect(last.stepSeconds).toBe(60);
    expect(last.points).toHaveLength(5);
    expect(last.issuedAt).toBe(new Date(t0 + 19 * 60_000).toISOString());
    for (const p of last.points) {
      expect(p.upper).toBeGreaterThanOrEqual(p.requestRate);
      expect(p.requestRate).toBeGreaterThan(2); // the ramp reached ~2.9 req/s
      expect(p.requestRate).toBeLessThan(5);
    }
    const metrics = await fetch(`${svc.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/maas_forecast_request_rate\{model="m-ramp",quantile="0.9"/);
  });
});
