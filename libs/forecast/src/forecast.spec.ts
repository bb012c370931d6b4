import { DemandForecast, DemandSeries, ValidForecast } from './demand-forecast';
import { DemandForecaster } from './demand-forecaster';
import { forecast } from './forecast';
import { ForecastSpec, resolveForecastSpec } from './forecast-spec';
import { syntheticDemand, SyntheticDemand } from './synthetic-demand';

function specWith(overrides: Partial<ForecastSpec> = {}): ForecastSpec {
  const check = resolveForecastSpec(overrides);
  if (!check.ok) throw new Error(check.error);
  return check.spec;
}

const spec = specWith();
const lastLabel = (s: DemandSeries): number => s.startSeconds + (s.values.length - 1) * s.stepSeconds;
const atEnd = (s: DemandSeries, options = spec): DemandForecast => forecast(s, options, lastLabel(s));

function valid(result: DemandForecast): ValidForecast {
  if (!result.valid) throw new Error(`expected a valid forecast, got: ${result.reason}`);
  return result;
}

const withValues = (s: DemandSeries, values: Array<number | null>): DemandSeries => ({ ...s, values });
/** Rolling-origin sMAPE (percent) at horizon h over targets from `fromStep`: the forecaster's and persistence's. */
function rollingSmape(series: DemandSeries, h: number, fromStep: number): { forecaster: number; persistence: number } {
  const forecaster = new DemandForecaster(spec, series.stepSeconds);
  const values = series.values as number[];
  let ours = 0;
  let naive = 0;
  let n = 0;
  const term = (a: number, f: number): number => (2 * Math.abs(a - f)) / (a + f);
  values.forEach((v, i) => {
    const t = series.startSeconds + i * series.stepSeconds;
    forecaster.observe(t, v);
    const result = forecaster.forecast(t);
    if (!result.valid || i + h < fromStep || i + h >= values.length) return;
    ours += term(values[i + h], result.points[h - 1].value);
    naive += term(values[i + h], v);
    n += 1;
  });
  return { forecaster: (100 * ours) / n, persistence: (100 * naive) / n };
}

describe('forecast', () => {
  describe('model selection by rolling-origin backtest', () => {
    it.each<{ name: string; shape: SyntheticDemand; model: RegExp; beatsPersistenceBy: number }>([
      { name: 'a strong daily season', shape: { days: 10, daily: 0.6, noise: 0.02 }, model: /daily|weekly/, beatsPersistenceBy: 0.7 },
      {
        name: 'daily and weekly seasons',
        shape: { days: 21, daily: 0.5, weekly: 0.4, noise: 0.02 },
        model: /weekly/,
        beatsPersistenceBy: 0.6,
      },
      {
        name: 'an hourly cycle (jobs on the hour)',
        shape: { days: 4, hourly: 0.3, noise: 0.02 },
        model: /hourly/,
        beatsPersistenceBy: 0.1,
      },
      {
        name: 'a daily season under heavy noise',
        shape: { days: 10, daily: 0.5, noise: 0.15 },
        model: /daily|weekly/,
        beatsPersistenceBy: 0.2,
      },
      {
        name: 'iid noise around a constant',
        shape: { days: 10, noise: 0.2 },
        model: /ewma\(0\.3\)|blend|holt-winters/,
        beatsPersistenceBy: 0.15,
      },
      { name: 'steady growth of 20 % a day', shape: { days: 10, trendPerDay: 0.2, noise: 0.02 }, model: /./, beatsPersistenceBy: 0.05 },
    ])('on $name picks $model and beats persistence at the decision horizon', ({ shape, model, beatsPersistenceBy }) => {
      const series = syntheticDemand(shape);
      const result = valid(atEnd(series));
      expect(result.model).toMatch(model);
      expect(result.fallbackReason).toBeUndefined();
      const rolling = rollingSmape(series, 6, 2 * 144);
      expect(rolling.forecaster).toBeLessThan((1 - beatsPersistenceBy) * rolling.persistence);
    });

    it('weights the blend towards the better candidates and names them, best first', () => {
      const result = valid(atEnd(syntheticDemand({ days: 10, daily: 0.6, noise: 0.02 })));
      // the best few share the weight; the label lists at most blendSize of them
      expect(result.model).toMatch(/^(blend\()?[a-z-]*(daily|weekly)/);
      expect((result.model.match(/\+/g) ?? []).length).toBeLessThanOrEqual(spec.blendSize - 1);
      const equal = valid(atEnd(syntheticDemand({ days: 10, daily: 0.6, noise: 0.02 }), specWith({ blendTemperature: 0 })));
      expect(equal.model).toMatch(/daily|weekly/);
    });

    it('blendSize 1 emits the single best candidate whatever the temperature', () => {
      const result = valid(atEnd(syntheticDemand({ days: 10, noise: 0.2 }), specWith({ blendSize: 1 })));
      expect(result.model).not.toMatch(/blend/);
    });

    it('stays close to persistence when demand is a random walk (no season to exploit)', () => {
      const series = syntheticDemand({ days: 10, drift: 0.5, noise: 0.01 });
      expect(valid(atEnd(series)).model).toMatch(/persistence|ewma\(0\.7\)|hourly\(0\.7\)|blend/);
      const rolling = rollingSmape(series, 6, 2 * 144);
      expect(rolling.forecaster).toBeLessThan(1.05 * rolling.persistence);
    });

    it('selects per horizon and reports every horizon', () => {
      const result = valid(atEnd(syntheticDemand({ days: 10, daily: 0.6, noise: 0.02 })));
      expect(result.points.map((p) => p.h)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(result.backtest.horizons.map((b) => b.h)).toEqual([1, 2, 3, 4, 5, 6]);
      const scores = result.backtest.candidates.map((c) => c.logError);
      expect(scores).toEqual([...scores].sort((a, b) => a - b));
      expect(result.backtest.candidates[0].logError).toBeLessThan(0.05);
      expect(result.points[5].model).toBe(result.model);
    });
  });

  describe('points', () => {
    it('follow the origin step by step, with upper ≥ value, near a noiseless daily truth', () => {
      const series = syntheticDemand({ days: 9, daily: 0.5, noise: 0.001 });
      const truth = syntheticDemand({ days: 10, daily: 0.5 }).values as number[];
      const result = valid(atEnd(series));
      const origin = lastLabel(series);
      expect(result.originSeconds).toBe(origin);
      result.points.forEach((p, i) => {
        expect(p.t).toBe(origin + (i + 1) * 600);
        expect(p.upper).toBeGreaterThanOrEqual(p.value);
        expect(Math.abs(p.value / truth[series.values.length + i] - 1)).toBeLessThan(0.01);
      });
    });
  });

  describe('gaps', () => {
    const steady = syntheticDemand({ days: 3, noise: 0.05 });
    it.each<{ name: string; tail: Array<number | null>; options?: Partial<ForecastSpec>; expectLevel: 'kept' | 'zero' }>([
      { name: 'missing steps (null)', tail: Array(10).fill(null), expectLevel: 'kept' },
      { name: 'NaN steps', tail: Array(10).fill(Number.NaN), expectLevel: 'kept' },
      { name: 'a short run of zeros (collector dropout)', tail: Array(10).fill(0), expectLevel: 'kept' },
      { name: 'near-zero partial buckets', tail: [0, 0, 0.9, 3, 0, 0], expectLevel: 'kept' },
      { name: 'zeros longer than dropoutMaxSeconds (real stop)', tail: Array(48).fill(0), expectLevel: 'zero' },
      {
        name: 'long zeros when zeros are gaps by configuration',
        tail: Array(48).fill(0),
        options: { zeroIsGap: true },
        expectLevel: 'kept',
      },
    ])('$name: level $expectLevel', ({ tail, options, expectLevel }) => {
      const result = valid(atEnd(withValues(steady, [...steady.values, ...tail]), specWith(options)));
      if (expectLevel === 'kept') expect(result.points[0].value).toBeGreaterThan(90);
      else expect(result.points[0].value).toBeLessThan(1);
    });

    it('treats zeros of a sparse series (below dropoutMinLevel) as demand, not dropouts', () => {
      const sparse = syntheticDemand({ days: 3, level: 0.05, noise: 0.05 });
      const values = [...sparse.values, ...Array(10).fill(0)];
      expect(valid(atEnd(withValues(sparse, values))).points[0].value).toBeLessThan(0.01);
      expect(valid(atEnd(withValues(sparse, values), specWith({ zeroIsGap: true }))).points[0].value).toBeGreaterThan(0.04);
    });

    it('keeps seasonal selection and calibration when a fifth of the steps are missing', () => {
      const series = syntheticDemand({ days: 10, daily: 0.6, noise: 0.05 });
      const holed = series.values.map((v, i) => ((i * 7919) % 5 === 0 ? null : v));
      const result = valid(atEnd(withValues(series, holed)));
      expect(result.model).toMatch(/daily|weekly/);
      for (const b of result.backtest.horizons) expect(b.coverage).toBeGreaterThan(0.85);
    });
  });

  describe('little history', () => {
    const series = syntheticDemand({ days: 3, noise: 0.05 });
    it.each<{ steps: number; model: RegExp; reason: RegExp | undefined }>([
      {
        steps: 1,
        model: /^ewma\(0\.5\)$/,
        reason:
          /^only 10 min of history; daily season needs 2 d; no candidate has 12 scored forecasts at h=6 yet; using ewma\(0\.5\); upper quantile from cold-start/,
      },
      { steps: 4, model: /^ewma\(0\.5\)$/, reason: /no candidate has 12 scored forecasts.*upper quantile from random-walk spread/ },
      {
        steps: 18,
        model: /./,
        reason:
          /^only 3 h of history; daily season needs 2 d; upper quantile from random-walk spread until 30 residuals at h=6 \(have 12\)$/,
      },
      { steps: 144, model: /./, reason: /^only 24 h of history; daily season needs 2 d$/ },
      { steps: 432, model: /./, reason: undefined },
    ])('after $steps steps: model $model, fallback $reason', ({ steps, model, reason }) => {
      const result = valid(atEnd(withValues(series, series.values.slice(0, steps))));
      expect(result.model).toMatch(model);
      if (reason) expect(result.fallbackReason).toMatch(reason);
      else expect(result.fallbackReason).toBeUndefined();
      for (const p of result.points) expect(p.upper).toBeGreaterThan(p.value);
    });

    it('starts wide: the cold-start upper is coldStartUpperRatio × the point', () => {
      const result = valid(atEnd(withValues(series, [100])));
      expect(result.points[0].value).toBeCloseTo(100, 6);
      expect(result.points[0].upper).toBeCloseTo(2 * 100.01 - 0.01, 6);
    });
  });

  describe('upper quantile calibration', () => {
    /** Coverage of the upper quantile over the last `days`, scored the way an operator would. */
    function measuredCoverage(series: DemandSeries, options: ForecastSpec, fromStep: number): number[] {
      const forecaster = new DemandForecaster(options, series.stepSeconds);
      const hits = Array(options.horizonSteps).fill(0);
      const counts = Array(options.horizonSteps).fill(0);
      series.values.forEach((v, i) => {
        const t = series.startSeconds + i * series.stepSeconds;
        forecaster.observe(t, v);
        const result = forecaster.forecast(t);
        if (!result.valid) return;
        for (const p of result.points) {
          const target = i + p.h;
          if (target < fromStep || target >= series.values.length) continue;
          counts[p.h - 1] += 1;
          if ((series.values[target] as number) <= p.upper) hits[p.h - 1] += 1;
        }
      });
      return hits.map((h, i) => h / counts[i]);
    }

    it.each<{ name: string; shape: SyntheticDemand; quantile: number; within: [number, number] }>([
      { name: 'log-normal noise, p90', shape: { days: 12, noise: 0.2, seed: 3 }, quantile: 0.9, within: [0.88, 0.92] },
      { name: 'log-normal noise, p75', shape: { days: 12, noise: 0.2, seed: 4 }, quantile: 0.75, within: [0.72, 0.78] },
      { name: 'daily season + noise, p90', shape: { days: 12, daily: 0.5, noise: 0.1, seed: 5 }, quantile: 0.9, within: [0.88, 0.92] },
      { name: 'random-walk level, p90', shape: { days: 12, drift: 0.4, noise: 0.05, seed: 6 }, quantile: 0.9, within: [0.87, 0.93] },
    ])('$name: coverage after day 2 is in $within', ({ shape, quantile, within }) => {
      const options = specWith({ upperQuantile: quantile });
      const series = syntheticDemand(shape);
      for (const c of measuredCoverage(series, options, 2 * 144)) {
        expect(c).toBeGreaterThanOrEqual(within[0]);
        expect(c).toBeLessThanOrEqual(within[1]);
      }
    });

    it('re-widens when volatility triples (adaptive level), and reports its own coverage', () => {
      const calm = syntheticDemand({ days: 6, noise: 0.08, seed: 8 }).values as number[];
      const wild = syntheticDemand({ days: 6, noise: 0.25, seed: 9 }).values as number[];
      const series: DemandSeries = { startSeconds: 0, stepSeconds: 600, values: [...calm, ...wild] };
      for (const c of measuredCoverage(series, spec, calm.length + 144)) expect(c).toBeGreaterThan(0.86);
      const result = valid(atEnd(series));
      for (const b of result.backtest.horizons) expect(b.coverage).toBeGreaterThan(0.85);
    });
  });

  describe('determinism and purity', () => {
    const series = syntheticDemand({ days: 8, daily: 0.4, hourly: 0.1, noise: 0.1, seed: 11 });

    it('gives the same result for the same inputs', () => {
      expect(atEnd(series)).toEqual(atEnd(series));
    });

    it('ignores values after now', () => {
      const now = lastLabel(series) - 144 * 600;
      const truncated = withValues(series, series.values.slice(0, series.values.length - 144));
      const garbage = withValues(series, [...truncated.values, ...Array(144).fill(1e9)]);
      expect(forecast(garbage, spec, now)).toEqual(forecast(truncated, spec, now));
    });

    it.each([
      { name: 'soft blend (default)', options: spec },
      { name: 'equal-weight blend', options: specWith({ blendTemperature: 0 }) },
    ])('$name: no look-ahead at any origin (future values replaced by garbage change nothing)', ({ options }) => {
      const garbage = withValues(
        series,
        series.values.map((v, i) => (i % 2 ? 1e9 : 0)),
      );
      const incremental = new DemandForecaster(options, series.stepSeconds);
      series.values.forEach((v, i) => {
        const t = series.startSeconds + i * series.stepSeconds;
        incremental.observe(t, v);
        if (i % 97 !== 50) return;
        const spliced = withValues(series, [...series.values.slice(0, i + 1), ...garbage.values.slice(i + 1)]);
        expect(forecast(spliced, options, t)).toEqual(incremental.forecast(t));
      });
    });

    it('matches the incremental forecaster fed the same steps', () => {
      const forecaster = new DemandForecaster(spec, series.stepSeconds);
      series.values.forEach((v, i) => forecaster.observe(series.startSeconds + i * series.stepSeconds, v));
      expect(forecaster.forecast(lastLabel(series))).toEqual(atEnd(series));
    });

    it('is the same forecast when asked a little after the origin (within staleness)', () => {
      const { points } = valid(forecast(series, spec, lastLabel(series) + 599));
      expect(points).toEqual(valid(atEnd(series)).points);
    });
  });

  describe('incremental forecaster', () => {
    const series = syntheticDemand({ days: 2, noise: 0.05 });
    const feed = (labels: number[]): DemandForecaster => {
      const forecaster = new DemandForecaster(spec, 600);
      for (const i of labels) forecaster.observe(i * 600, series.values[i]);
      return forecaster;
    };

    it('counts skipped labels as gaps', () => {
      const skipped = feed([0, 1, 2, 5]);
      const explicit = new DemandForecaster(spec, 600);
      [0, 1, 2].forEach((i) => explicit.observe(i * 600, series.values[i]));
      explicit.observe(1800, null);
      explicit.observe(2400, null);
      explicit.observe(3000, series.values[5]);
      expect(skipped.forecast(3000)).toEqual(explicit.forecast(3000));
    });

    it('ignores labels at or before the last one', () => {
      const forecaster = feed([0, 1, 2]);
      const before = forecaster.forecast(1200);
      forecaster.observe(600, 1e6);
      forecaster.observe(1200, 1e6);
      expect(forecaster.forecast(1200)).toEqual(before);
    });

    it('starts afresh after a silence longer than maxHistorySeconds', () => {
      const forecaster = new DemandForecaster(specWith({ maxHistorySeconds: 86_400 }), 600);
      series.values.forEach((v, i) => forecaster.observe(i * 600, v));
      const later = 10 * 86_400;
      forecaster.observe(later, 50);
      const result = valid(forecaster.forecast(later));
      expect(result.points[0].value).toBeCloseTo(50, 6);
      expect(result.fallbackReason).toMatch(/^only 10 min of history/);
    });

    it('names the bad key when constructed with a bad spec', () => {
      expect(() => new DemandForecaster({ ...spec, blendSize: -1 }, 600)).toThrow(/blendSize must be an integer ≥ 0/);
    });
  });

  describe('not valid', () => {
    const series = syntheticDemand({ days: 1, noise: 0.05 });
    it.each<{ name: string; input: () => DemandForecast; reason: RegExp }>([
      { name: 'no observations', input: () => atEnd(withValues(series, [])), reason: /^no observations$/ },
      {
        name: 'every step a gap',
        input: () => atEnd(withValues(series, [null, Number.NaN, -1])),
        reason: /every step up to t=1200 is a gap/,
      },
      { name: 'stale data', input: () => forecast(series, spec, lastLabel(series) + 3600), reason: /is 1 h old; stale after 30 min/ },
      { name: 'now before the series', input: () => forecast(series, spec, -600), reason: /no observation at or before now/ },
      {
        name: 'a bad spec',
        input: () => atEnd(series, { ...spec, upperQuantile: 1.5 }),
        reason: /upperQuantile must be in \(0\.5, 1\), got 1\.5/,
      },
      { name: 'a bad step', input: () => atEnd({ ...series, stepSeconds: 0 }), reason: /stepSeconds must be > 0/ },
      {
        name: 'an unknown short-history model',
        input: () => atEnd(series, { ...spec, shortHistoryModel: 'prophet' }),
        reason: /shortHistoryModel "prophet" is not a candidate/,
      },
    ])('$name', ({ input, reason }) => {
      const result = input();
      expect(result.valid).toBe(false);
      if (!result.valid) expect(result.reason).toMatch(reason);
    });
  });

  describe('resolveForecastSpec', () => {
    it.each<{ overrides: Partial<ForecastSpec>; error: RegExp }>([
      { overrides: { horizonSteps: 0 }, error: /horizonSteps must be an integer in 1\.\.10000, got 0/ },
      {
        overrides: { horizonSteps: 6, decisionHorizonSteps: 9 },
        error: /decisionHorizonSteps must be an integer in 1\.\.horizonSteps \(6\), got 9/,
      },
      { overrides: { demandFloor: 0 }, error: /demandFloor must be > 0/ },
      { overrides: { dropoutFraction: 1 }, error: /dropoutFraction must be in \[0, 1\)/ },
      { overrides: { blendTemperature: -0.1 }, error: /blendTemperature must be ≥ 0/ },
    ])('names the bad key: $error', ({ overrides, error }) => {
      const check = resolveForecastSpec(overrides);
      expect(check.ok).toBe(false);
      if (!check.ok) expect(check.error).toMatch(error);
    });

    it('shortens the decision horizon with the horizon unless set', () => {
      const check = resolveForecastSpec({ horizonSteps: 3 });
      expect(check.ok && check.spec.decisionHorizonSteps).toBe(3);
    });
  });
});
