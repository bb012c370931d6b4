import { INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Counter, register } from 'prom-client';
import request from 'supertest';
import { BusLink, PlatformModule } from '@maas/platform';
import { createTestDatabase, PrivateNatsServer, startPrivateNatsServer, TestDatabase, testNamespace } from '@maas/testing';

/**
 * What every service gets from PlatformModule, asked over HTTP with supertest against the Nest app:
 * `/health` (NATS and PostgreSQL, each really up or really gone) and `/metrics`.
 */
describe('PlatformModule /health and /metrics', () => {
  let nats: PrivateNatsServer;
  let db: TestDatabase;
  let app: INestApplication;
  const saved = { ...process.env };

  beforeAll(async () => {
    [nats, db] = await Promise.all([startPrivateNatsServer(), createTestDatabase('health')]);
    Object.assign(process.env, { NATS_URL: nats.url, MAAS_NAMESPACE: testNamespace(), DATABASE_URL: db.url, LOG_LEVEL: 'silent' });
    @Module({
      imports: [
        PlatformModule.forService({ name: 'forecaster', description: 'platform test', database: { entities: [], migrations: [] } }),
      ],
    })
    class TestServiceModule {}
    app = await NestFactory.create(TestServiceModule, { logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    await Promise.all([nats?.stop(), db?.drop()]);
    process.env = saved;
  });

  it('GET /health is 200 with NATS (a round trip to this server) and PostgreSQL up', async () => {
    const res = await request(app.getHttpServer())
      .get('/health')
      .expect(200)
      .expect('content-type', /application\/json/);
    expect(res.body).toMatchObject({
      status: 'ok',
      info: {
        nats: { status: 'up', server: expect.stringContaining(`:${nats.port}`), rttMs: expect.any(Number) },
        database: { status: 'up' },
      },
    });
  });

  it('GET /metrics is Prometheus text: process metrics and what the service registered', async () => {
    const probe = new Counter({
      name: 'maas_platform_test_probes_total',
      help: 'probes counted by the platform test',
      registers: [register],
    });
    try {
      probe.inc(3);
      const res = await request(app.getHttpServer())
        .get('/metrics')
        .expect(200)
        .expect('content-type', /^text\/plain;.*\bversion=0\.0\.4\b/); // Prometheus text format 0.0.4
      expect(res.text).toMatch(/^# HELP maas_platform_test_probes_total probes counted by the platform test$/m);
      expect(res.text).toMatch(/^maas_platform_test_probes_total 3$/m);
      expect(res.text).toMatch(/^process_cpu_user_seconds_total \d/m);
    } finally {
      register.removeSingleMetric('maas_platform_test_probes_total');
    }
  });

  it('GET /health is 503 naming NATS while its server is gone, and 200 again once it is back', async () => {
    await nats.kill();
    const down = await request(app.getHttpServer()).get('/health').expect(503);
    expect(down.body).toMatchObject({ status: 'error', error: { nats: { status: 'down' } }, info: { database: { status: 'up' } } });

    await nats.restart();
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = (await request(app.getHttpServer()).get('/health')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(200);
  });

  it('GET /health is 200 "degraded: bus down, serving" while NATS is gone for a service that declared it can serve, 503 once it cannot', async () => {
    const link = app.get(BusLink);
    let workers = 2;
    link.serveWithoutBus(() => ({ serving: workers > 0, detail: { readyWorkers: workers } }));
    await nats.kill();
    try {
      const degraded = await request(app.getHttpServer()).get('/health').expect(200);
      expect(degraded.body).toMatchObject({
        status: 'ok',
        info: { nats: { status: 'up', connected: false, degraded: 'bus down, serving', readyWorkers: 2 }, database: { status: 'up' } },
      });
      expect(link.state.connected).toBe(false);
      expect(Date.parse(degraded.body.info.nats.downSince)).toBeLessThanOrEqual(Date.now());

      workers = 0;
      const cannot = await request(app.getHttpServer()).get('/health').expect(503);
      expect(cannot.body).toMatchObject({ status: 'error', error: { nats: { status: 'down', cannotServe: 'bus down', readyWorkers: 0 } } });
    } finally {
      await nats.restart();
    }
    const deadline = Date.now() + 20_000;
    while (!link.state.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(link.state.connected).toBe(true);
    const back = await request(app.getHttpServer()).get('/health').expect(200);
    expect(back.body.info.nats).toMatchObject({ status: 'up', rttMs: expect.any(Number) });
    expect(back.body.info.nats.degraded).toBeUndefined();
  });
});
