import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireSystemPart, startService, StartedService } from '@maas/testing';
import { chatBody, MODEL, readSse, sleep, Stack, waitUntil } from './support/stack';

const root = path.resolve(__dirname, '../../..');
const PROMETHEUS_CONFIG = path.join(root, 'deploy/prometheus/prometheus.yml');
const DASHBOARD = path.join(root, 'deploy/grafana/dashboards/open-maas-models.json');

interface Target {
  refId: string;
  expr: string;
}
interface Panel {
  title: string;
  targets: Target[];
}
interface Vector {
  metric: Record<string, string>;
  value: [number, string];
}

/** Panels that stay empty in this test: nothing malformed is sent, and no batch runs. */
const EMPTY_HERE = new Set([
  'NATS messages rejected (malformed)/A',
  'Batch vs interactive requests/s, and hours to the batch deadline/A',
  'Batch vs interactive requests/s, and hours to the batch deadline/C',
]);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The shipped Prometheus configuration and Grafana dashboard against the real thing: promtool checks
 * the configuration, a Prometheus scrapes a real gateway, router and metrics-collector under the
 * configuration's job names, and every panel's query is evaluated by it after real traffic.
 */
describe('Prometheus configuration and the Grafana dashboard, evaluated by Prometheus', () => {
  const stack = new Stack();
  let collector: StartedService;
  let second: StartedService;
  let prometheus: ChildProcess | undefined;
  let promUrl: string;
  let dataDir: string;
  let key: string;
  let log = '';

  const query = async (expr: string): Promise<Vector[]> => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Vector[] } };
    if (body.status !== 'success') throw new Error(`Prometheus refused ${expr}: ${body.error}`);
    return body.data!.result;
  };

  beforeAll(async () => {
    requireSystemPart('prometheus');
    await stack.start();
    await stack.startWorker();
    second = await stack.startGateway();
    collector = await startService('metrics-collector', { ...stack.env, METRICS_INTERVAL_MS: '1s', METRICS_LATENESS_MS: '200ms' });
    key = (await stack.createKey()).secret;

    // The shipped job names, pointed at this test's processes and scraped every second.
    const shipped = fs.readFileSync(PROMETHEUS_CONFIG, 'utf8');
    const jobs = [...shipped.matchAll(/job_name:\s*(\S+)/g)].map((m) => m[1]);
    const here: Record<string, StartedService[]> = {
      gateway: [stack.gateway, second],
      router: [stack.router],
      'key-registry': [stack.keyRegistry],
      'metrics-collector': [collector],
    };
    for (const job of Object.keys(here)) expect(jobs).toContain(job);
    const config = ['global: { scrape_interval: 1s, evaluation_interval: 1s }', 'scrape_configs:'];
    for (const [job, services] of Object.entries(here)) {
      config.push(
        `  - job_name: ${job}`,
        `    static_configs: [{ targets: [${services.map((svc) => `"${new URL(svc.url).host}"`).join(', ')}] }]`,
      );
    }
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-prometheus-'));
    fs.writeFileSync(path.join(dataDir, 'prometheus.yml'), `${config.join('\n')}\n`);
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${path.join(dataDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dataDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stderr!.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
    await waitUntil(async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok, 20_000, 'Prometheus to be ready').catch(
      (err) => {
        throw new Error(`${(err as Error).message}\n${log}`);
      },
    );
    await waitUntil(async () => (await query('up == 1')).length === 5, 20_000, 'Prometheus to scrape all five targets');
  });

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus!.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    await collector?.stop();
    await stack.stop();
  });

  it('promtool accepts the shipped configuration', () => {
    expect(execFileSync('promtool', ['check', 'config', PROMETHEUS_CONFIG], { encoding: 'utf8' })).toMatch(/SUCCESS/);
  });

  it('every panel of the dashboard evaluates per model, summed over two gateways', async () => {
    const post = (gateway: StartedService, body: unknown) =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify(body),
      });
    // Two waves a few scrapes apart, so every counter and bucket has grown between samples (rate > 0).
    const wave = async () => {
      for (const gateway of [stack.gateway, second]) {
        for (let i = 0; i < 3; i++) {
          const res = await post(gateway, chatBody({ stream: true, max_tokens: 12, ignore_eos: true }));
          expect((await readSse(res)).done).toBe(true);
        }
        expect((await post(gateway, chatBody())).status).toBe(200);
        expect((await post(gateway, chatBody({ model: 'nobody/serves-this' }))).status).toBe(404);
      }
    };
    await wave();
    await sleep(2500);
    await wave();
    await sleep(2500);

    const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as {
      panels: Panel[];
      templating: { list: { name: string; query: string }[] };
    };
    const modelVar = dashboard.templating.list.find((v) => v.name === 'model')!;
    const metric = /^label_values\((\w+), model\)$/.exec(modelVar.query)![1];
    expect((await query(`count by (model) (${metric})`)).map((r) => r.metric.model).sort()).toEqual([MODEL, 'other']);

    const results: { panel: string; series: number; ourModel?: number }[] = [];
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        const name = `${panel.title}/${target.refId}`;
        const vectors = await query(target.expr.replace(/\$model/g, '.*'));
        const ours = vectors.find((v) => v.metric.model === MODEL);
        results.push({ panel: name, series: vectors.length, ...(ours ? { ourModel: Number(ours.value[1]) } : {}) });
      }
    }
    for (const r of results) {
      if (EMPTY_HERE.has(r.panel)) expect(r).toEqual({ panel: r.panel, series: 0 });
      else expect({ panel: r.panel, series: r.series > 0 }).toEqual({ panel: r.panel, series: true });
      // A per-model panel gives our model a real figure (a quantile of nothing would be NaN).
      if (r.ourModel !== undefined)
        expect({ panel: r.panel, finite: Number.isFinite(r.ourModel) }).toEqual({ panel: r.panel, finite: true });
    }
    const value = (panel: string) => results.find((r) => r.panel === panel)!.ourModel;
    expect(value('Requests per second/A')).toBeGreaterThan(0);
    expect(value('Output tokens per second/A')).toBeGreaterThan(0);
    expect(value('Time to first token (p50, p95)/B')).toBeGreaterThan(0);
    expect(value('Time per output token (p50, p95)/B')).toBeGreaterThan(0);
    expect(value('End-to-end duration (p50, p95)/B')).toBeGreaterThanOrEqual(value('End-to-end duration (p50, p95)/A')!);
    expect(value('Ready workers/A')).toBe(1);
    expect(value('Batch backlog (requests not done)/A')).toBe(0);
    // The unknown model's 404s are there, under the one bounded label.
    expect(
      (await query('sum by (model, status) (maas_gateway_requests_total{status="404"})')).map((v) => [v.metric.model, v.value[1]]),
    ).toEqual([['other', '4']]);
    // Each gateway is its own instance of the job; their counters add up.
    const perInstance = await query(`sum by (instance) (maas_gateway_requests_total{job="gateway", model="${MODEL}", status="200"})`);
    expect(perInstance.map((v) => v.value[1])).toEqual(['8', '8']);
    expect(await query(`sum(maas_gateway_time_to_first_token_seconds_count{model="${MODEL}"})`)).toEqual([
      { metric: {}, value: [expect.any(Number), '12'] },
    ]);
  });
});
