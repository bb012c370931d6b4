import { factory } from '@maas/testing';
import { resolveScalingSpec, VmRecord } from '@maas/scaling';
import { buildObservation, PENDING_RATE_WINDOW_SECONDS, toOutlook } from './observation';

const MODEL = 'qwen';
const spec = (() => {
  const check = resolveScalingSpec({
    capacity: {
      vmTypes: [{ name: 'gpu', accelerator: 'gpu', costPerHour: 1, bootSeconds: 60, slots: { [MODEL]: 2 }, maxCount: null }],
      bootMarginSeconds: 0,
    },
    models: { [MODEL]: { metric: 'rps' } },
  });
  if (!check.ok) throw new Error(check.error);
  return check.spec;
})();
const NOW = 1_800_000_000;
const iso = (s: number) => new Date(s * 1000).toISOString();
const vm = (o: Partial<VmRecord>): VmRecord => ({
  id: 'vm-1',
  provider: 'local',
  vmType: 'gpu',
  model: MODEL,
  state: 'ready',
  requestedAt: NOW - 100,
  stateSince: NOW - 50,
  readyAt: NOW - 50,
  endedAt: null,
  reason: null,
  ...o,
});

describe('buildObservation', () => {
  const base = { spec, forecasts: [], vms: [], inFlight: () => 0, now: NOW, maxAgeSeconds: 30 };

  it.each([
    ['a fresh aggregate is observed as it is', NOW - 11, { concurrency: 4, requestRate: 3, readyReplicas: 1 }],
    ['a stale one is not an observation', NOW - 41, { concurrency: null, requestRate: null, readyReplicas: 0 }],
  ])('%s', (_, intervalStart, expected) => {
    const a = factory.metricAggregated({
      model: MODEL,
      intervalStart: iso(intervalStart),
      intervalSeconds: 10,
      requestRate: 3,
      concurrency: 4,
      readyWorkers: 1,
    });
    expect(buildObservation({ ...base, aggregates: [a] }).models[MODEL]).toEqual(expected);
  });

  it('passes the batch backlog on with its deadline in seconds; none when the backlog is empty', () => {
    const deadline = NOW + 86_400;
    const a = (batchBacklog: number) =>
      factory.metricAggregated({
        model: MODEL,
        intervalStart: iso(NOW - 11),
        intervalSeconds: 10,
        requestRate: 0,
        concurrency: 0,
        readyWorkers: 0,
        batchBacklog,
        batchDeadline: batchBacklog ? iso(deadline) : null,
      });
    expect(buildObservation({ ...base, aggregates: [a(1500)] }).models[MODEL]).toEqual({
      concurrency: 0,
      requestRate: 0,
      readyReplicas: 0,
      batch: { requests: 1500, deadline },
    });
    expect(buildObservation({ ...base, aggregates: [a(0)] }).models[MODEL].batch).toBeUndefined();
  });

  it('adds the requests gateways hold: a model at zero with a held request has demand now, aggregate or not', () => {
    const held = (model: string) => (model === MODEL ? 3 : 0);
    expect(buildObservation({ ...base, aggregates: [], pending: held }).models[MODEL]).toEqual({
      concurrency: 3,
      requestRate: 3 / PENDING_RATE_WINDOW_SECONDS,
      readyReplicas: 0,
    });
    const idle = factory.metricAggregated({
      model: MODEL,
      intervalStart: iso(NOW - 11),
      intervalSeconds: 10,
      requestRate: 0,
      concurrency: 0,
      readyWorkers: 0,
    });
    expect(buildObservation({ ...base, aggregates: [idle], pending: held }).models[MODEL]).toEqual({
      concurrency: 3,
      requestRate: 0.3,
      readyReplicas: 0,
    });
    const busy = factory.metricAggregated({
      model: MODEL,
      intervalStart: iso(NOW - 11),
      intervalSeconds: 10,
      requestRate: 7,
      concurrency: 9,
      readyWorkers: 2,
    });
    expect(buildObservation({ ...base, aggregates: [busy], pending: held }).models[MODEL]).toEqual({
      concurrency: 9,
      requestRate: 7,
      readyReplicas: 2,
    });
  });

  it('counts ready slots of its own nodes when no worker is reported, and joins in-flight counts', () => {
    const vms = [vm({ id: 'a' }), vm({ id: 'b', state: 'booting' }), vm({ id: 'c', model: 'other' })];
    const o = buildObservation({ ...base, aggregates: [], vms, inFlight: (id) => (id === 'a' ? 3 : null) });
    expect(o.models).toEqual({ [MODEL]: { concurrency: null, requestRate: null, readyReplicas: 2 } });
    expect(o.vms.map((v) => [v.id, v.inFlight])).toEqual([
      ['a', 3],
      ['b', null],
      ['c', null],
    ]);
    expect(o.forecasts).toBeUndefined();
  });

  it('keeps only the forecast steps within the boot horizon, for models of the spec', () => {
    const points = [-60, 60, 120, 180].map((dt) => ({ at: iso(NOW + dt), requestRate: 5, upper: 7 }));
    const o = buildObservation({
      ...base,
      aggregates: [],
      forecasts: [
        factory.forecastPublished({ model: MODEL, stepSeconds: 60, method: 'holt', points }),
        factory.forecastPublished({ model: 'unmanaged', points }),
      ],
    });
    expect(Object.keys(o.forecasts!)).toEqual([MODEL]);
    expect(o.forecasts![MODEL]).toEqual({
      valid: true,
      stepSeconds: 60,
      model: 'holt',
      points: [
        { t: NOW + 60, value: 5, upper: 7 },
        { t: NOW + 120, value: 5, upper: 7 },
      ],
    });
  });

  it('reads a forecast without points as not valid', () => {
    expect(toOutlook(factory.forecastPublished({ forecastId: 'f-1', points: [] }))).toEqual({
      valid: false,
      reason: 'forecast f-1 has no points',
    });
  });
});
