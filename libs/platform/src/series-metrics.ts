import { register } from 'prom-client';

/*
 * Counter and histogram families for hot paths. prom-client validates and hashes the labels on every
 * inc/observe, even through a child from `labels()` (~1 µs each); here a child is a plain object the
 * caller keeps per label set, and an update is an addition. They register in prom-client's default
 * registry, so /metrics renders them beside everything else, in the same text format.
 */

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

type Node<S> = Map<string, Node<S> | S>;

abstract class Family<S> {
  /** Children in creation order, for rendering. */
  protected readonly series: { labels: Record<string, string>; s: S }[] = [];
  /** One map level per label: no key string is built per update. */
  private root: Node<S> = new Map();
  readonly aggregator = 'sum' as const;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    register.registerMetric(this as never);
  }

  /** The child of one label set (values in `labelNames` order), made on first use. */
  labels(...values: string[]): S {
    const last = this.labelNames.length - 1;
    if (values.length !== last + 1) throw new Error(`${this.name} takes ${last + 1} label values, got ${values.length}`);
    let node = this.root;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]) as Node<S> | undefined;
      if (!next) node.set(values[i], (next = new Map()));
      node = next;
    }
    let s = node.get(values[last]) as S | undefined;
    if (s === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]));
      s = this.make();
      node.set(values[last], s);
      this.series.push({ labels, s });
    }
    return s;
  }

  reset(): void {
    this.series.length = 0;
    this.root = new Map();
  }

  protected abstract make(): S;
  abstract get(): MetricData;
}

export class CounterChild {
  value = 0;

  inc(n = 1): void {
    this.value += n;
  }
}

export class SeriesCounter extends Family<CounterChild> {
  readonly type = 'counter' as const;

  protected make(): CounterChild {
    return new CounterChild();
  }

  get(): MetricData {
    const values = this.series.map(({ labels, s }) => ({ labels, value: s.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export class HistogramChild {
  /** Observations per bucket (not cumulative); the last slot is above the highest bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.counts[i] += 1;
    this.sum += value;
    this.count += 1;
  }
}

export class SeriesHistogram extends Family<HistogramChild> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  protected make(): HistogramChild {
    return new HistogramChild(this.buckets);
  }

  get(): MetricData {
    const values: MetricValue[] = [];
    for (const { labels, s } of this.series) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i];
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
