import { PoolLoad } from './job-pool';

/** Latency bounds in seconds for jobs from a fraction of a second (one image) to half an hour (a long recording). */
export const LATENCY_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800];

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    const i = this.bounds.findIndex((b) => value <= b);
    if (i >= 0) this.counts[i] += 1;
  }
}

const escape = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * Prometheus metrics of a media runtime. The load gauges carry vLLM's names so the worker agent
 * reads an OCR or speech runtime the same way as a vLLM server; one sample per runtime (its pool
 * is shared by all its models), labelled with its first model.
 */
export class RuntimeMetrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private readonly e2e = new Histogram(LATENCY_BUCKETS);
  private readonly successes = new Map<string, number>();
  private readonly work = new Map<string, { help: string; value: number }>();

  constructor(
    private readonly modelName: string,
    private readonly load: () => PoolLoad,
  ) {}

  /** One finished request on an engine endpoint (not /health or /metrics). */
  observeRequest(path: string, status: number, seconds: number): void {
    const key = `${path}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    let histogram = this.latency.get(path);
    if (!histogram) this.latency.set(path, (histogram = new Histogram(LATENCY_BUCKETS)));
    histogram.observe(seconds);
    if (status < 400) {
      this.e2e.observe(seconds);
      this.successes.set(path, (this.successes.get(path) ?? 0) + 1);
    }
  }

  /** A work counter such as images read or audio seconds transcribed. */
  count(name: string, help: string, amount: number): void {
    const entry = this.work.get(name) ?? { help, value: 0 };
    entry.value += amount;
    this.work.set(name, entry);
  }

  render(): string {
    const model = `model_name="${escape(this.modelName)}"`;
    const lines: string[] = [];
    const head = (name: string, type: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    const histogram = (name: string, labels: string, h: Histogram) => {
      let cumulative = 0;
      h.bounds.forEach((bound, i) => {
        cumulative += h.counts[i];
        lines.push(`${name}_bucket{${labels},le="${bound}"} ${cumulative}`);
      });
      lines.push(
        `${name}_bucket{${labels},le="+Inf"} ${h.count}`,
        `${name}_sum{${labels}} ${h.sum}`,
        `${name}_count{${labels}} ${h.count}`,
      );
    };
    const load = this.load();
    head('vllm:num_requests_running', 'gauge', 'Requests with a job on an engine slot.');
    lines.push(`vllm:num_requests_running{${model}} ${load.running}`);
    head('vllm:num_requests_waiting', 'gauge', 'Requests waiting for an engine slot.');
    lines.push(`vllm:num_requests_waiting{${model}} ${load.waiting}`);
    head('vllm:request_success_total', 'counter', 'Requests answered successfully.');
    lines.push(`vllm:request_success_total{${model}} ${[...this.successes.values()].reduce((a, b) => a + b, 0)}`);
    head('vllm:e2e_request_latency_seconds', 'histogram', 'End-to-end latency of successful requests in seconds.');
    histogram('vllm:e2e_request_latency_seconds', model, this.e2e);
    head('maas_runtime_requests_total', 'counter', 'Engine requests by path and HTTP status.');
    for (const [key, value] of this.requests) {
      const [path, status] = key.split('\u0000');
      lines.push(`maas_runtime_requests_total{${model},path="${escape(path)}",status="${status}"} ${value}`);
    }
    head('maas_runtime_request_duration_seconds', 'histogram', 'Engine request latency by path, errors included, in seconds.');
    for (const [path, h] of this.latency) histogram('maas_runtime_request_duration_seconds', `${model},path="${escape(path)}"`, h);
    for (const [name, entry] of this.work) {
      head(name, 'counter', entry.help);
      lines.push(`${name}{${model}} ${entry.value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
