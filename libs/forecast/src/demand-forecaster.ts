import { smapeTerm } from './accuracy';
import { CalendarPeriods, calendarPeriods, formatDuration } from './calendar';
import { CandidateDefinition, CandidateModel, candidateSet, dailySeasonWarmupSteps } from './candidate-models';
import { CandidateScore, DemandForecast, ForecastPoint, HorizonBacktest } from './demand-forecast';
import { ForecastSpec, validateForecastSpec } from './forecast-spec';
import { normalQuantile, SortedWindow } from './quantiles';

/** What the forecaster emitted at one horizon for the latest origin. */
interface EmittedPoint {
  readonly z: number;
  readonly upperZ: number;
  readonly model: string;
  readonly selectedByBacktest: boolean;
  readonly upperSource: 'empirical' | 'random-walk' | 'cold-start';
  readonly calibrationSamples: number;
}

const positiveMod = (a: number, n: number): number => ((a % n) + n) % n;

/** Accuracy of emitted forecasts over a trailing window of target steps. */
class TrailingAccuracy {
  private readonly smape: Float64Array;
  private readonly abs: Float64Array;
  private readonly hit: Uint8Array;
  private readonly present: Uint8Array;
  private count = 0;
  private smapeSum = 0;
  private absSum = 0;
  private hits = 0;

  constructor(private readonly windowSteps: number) {
    this.smape = new Float64Array(windowSteps);
    this.abs = new Float64Array(windowSteps);
    this.hit = new Uint8Array(windowSteps);
    this.present = new Uint8Array(windowSteps);
  }

  /** Forgets whatever was recorded one window before `step`. */
  clear(step: number): void {
    const i = positiveMod(step, this.windowSteps);
    if (!this.present[i]) return;
    this.present[i] = 0;
    this.count -= 1;
    this.smapeSum -= this.smape[i];
    this.absSum -= this.abs[i];
    this.hits -= this.hit[i];
  }

  record(step: number, smape: number, abs: number, hit: boolean): void {
    this.clear(step);
    const i = positiveMod(step, this.windowSteps);
    this.present[i] = 1;
    this.smape[i] = smape;
    this.abs[i] = abs;
    this.hit[i] = hit ? 1 : 0;
    this.count += 1;
    this.smapeSum += smape;
    this.absSum += abs;
    this.hits += this.hit[i];
  }

  summary(h: number): HorizonBacktest | undefined {
    if (this.count === 0) return undefined;
    return {
      h,
      samples: this.count,
      smape: (100 * this.smapeSum) / this.count,
      mae: this.absSum / this.count,
      coverage: this.hits / this.count,
    };
  }
}

/**
 * Online per-series demand forecaster: feed it each step as it arrives, ask for a forecast at any time.
 * Every step it scores the forecasts made h steps earlier (a rolling-origin backtest of every candidate
 * at every horizon), updates the candidates, and emits per horizon a blend weighted by each candidate's
 * recent absolute log error (≈ sMAPE for busy series): exponential weights relative to the best one
 * (spec.blendTemperature), so near-ties share rather than flip. The upper quantile comes from the empirical residuals of the
 * forecasts it actually emitted, per horizon, with the level nudged after each hit or miss (adaptive
 * conformal inference) so coverage holds when volatility changes.
 *
 * State is local to the instance and a function of the observations only: replaying the same
 * observations into a new instance gives the same forecasts (see `forecast()`).
 */
export class DemandForecaster {
  readonly periods: CalendarPeriods;
  private readonly definitions: CandidateDefinition[];
  private readonly models: CandidateModel[];
  private readonly H: number;
  /** Candidate count; index M is the blend. */
  private readonly M: number;
  private readonly shortHistoryIndex: number;
  private readonly decay: number;
  private readonly scoreSum: Float64Array;
  private readonly scoreWeight: Float64Array;
  private readonly scoreCount: Int32Array;
  private readonly ringSize: number;
  private readonly pendingOrigin: Float64Array;
  private readonly pendingZ: Float64Array;
  private readonly emittedZ: Float64Array;
  private readonly emittedUpperZ: Float64Array;
  private readonly residuals: SortedWindow[];
  private readonly quantileLevel: Float64Array;
  private readonly backtest: TrailingAccuracy[];
  private readonly backtestWindowSteps: number;
  private readonly dropoutAlpha: number;
  private readonly maxGapSteps: number;
  private lastStep: number | undefined;
  private firstValidStep: number | undefined;
  private lastValidZ: number | undefined;
  private diffSquares = 0;
  private diffCount = 0;
  private dropoutLevelZ: number | undefined;
  private dropoutRun = 0;
  private latest: EmittedPoint[] = [];

  constructor(
    readonly spec: ForecastSpec,
    readonly stepSeconds: number,
  ) {
    const specError = validateForecastSpec(spec);
    if (specError) throw new Error(specError);
    if (!(stepSeconds > 0) || !Number.isFinite(stepSeconds))
      throw new Error(`forecast series: stepSeconds must be > 0, got ${stepSeconds}`);
    this.periods = calendarPeriods(stepSeconds);
    this.definitions = candidateSet(this.periods);
    this.models = this.definitions.map((d) => d.create());
    this.shortHistoryIndex = this.definitions.findIndex((d) => d.name === spec.shortHistoryModel);
    if (this.shortHistoryIndex < 0) {
      const names = this.definitions.map((d) => d.name).join(', ');
      throw new Error(
        `forecast spec: shortHistoryModel "${spec.shortHistoryModel}" is not a candidate for ${stepSeconds} s steps (${names})`,
      );
    }
    this.H = spec.horizonSteps;
    this.M = this.definitions.length;
    const cells = (this.M + 1) * this.H;
    this.decay = Math.pow(0.5, stepSeconds / spec.selectionHalfLifeSeconds);
    this.scoreSum = new Float64Array(cells);
    this.scoreWeight = new Float64Array(cells);
    this.scoreCount = new Int32Array(cells);
    this.ringSize = this.H + 1;
    this.pendingOrigin = new Float64Array(this.ringSize).fill(Number.NaN);
    this.pendingZ = new Float64Array(this.ringSize * cells).fill(Number.NaN);
    this.emittedZ = new Float64Array(this.ringSize * this.H).fill(Number.NaN);
    this.emittedUpperZ = new Float64Array(this.ringSize * this.H).fill(Number.NaN);
    // coarse steps get a longer window: a p90 read from a day of hourly residuals (24) is mostly noise
    const calibrationSteps = Math.max(4 * spec.minCalibrationSamples, Math.round(spec.calibrationWindowSeconds / stepSeconds));
    this.residuals = Array.from({ length: this.H }, () => new SortedWindow(calibrationSteps));
    this.quantileLevel = new Float64Array(this.H).fill(spec.upperQuantile);
    this.backtestWindowSteps = Math.max(1, Math.round(spec.backtestWindowSeconds / stepSeconds));
    this.backtest = Array.from({ length: this.H }, () => new TrailingAccuracy(this.backtestWindowSteps));
    this.dropoutAlpha = 1 - Math.pow(0.5, stepSeconds / spec.dropoutReferenceHalfLifeSeconds);
    this.maxGapSteps = Math.max(1, Math.floor(spec.maxHistorySeconds / stepSeconds));
  }

  /** Label (seconds) of the last step observed, gaps included. */
  get lastObservedSeconds(): number | undefined {
    return this.lastStep === undefined ? undefined : this.lastStep * this.stepSeconds;
  }

  /**
   * Feeds the value labelled `t` (seconds, a multiple of the step). Skipped steps count as gaps;
   * labels at or before the last one are ignored (the series only moves forward).
   */
  observe(t: number, value: number | null | undefined): void {
    const step = Math.round(t / this.stepSeconds);
    if (!Number.isFinite(step)) return;
    if (this.lastStep !== undefined) {
      if (step <= this.lastStep) return;
      // a silence longer than the history we would replay anyway: start afresh
      if (step - this.lastStep > this.maxGapSteps) this.reset();
    }
    if (this.lastStep !== undefined) {
      for (let s = this.lastStep + 1; s < step; s += 1) this.advance(s, undefined);
    }
    this.advance(step, value);
  }

  /** The forecast from the latest origin, as seen at `now` (seconds). */
  forecast(now: number): DemandForecast {
    const spec = this.spec;
    if (this.lastStep === undefined) return { valid: false, reason: 'no observations' };
    const origin = this.lastStep * this.stepSeconds;
    if (this.firstValidStep === undefined) return { valid: false, reason: `every step up to t=${origin} is a gap` };
    if (now < origin) return { valid: false, reason: `now (t=${now}) precedes the last observation (t=${origin})` };
    const age = now - origin;
    if (age > spec.staleAfterSteps * this.stepSeconds) {
      return {
        valid: false,
        reason: `last observation at t=${origin} is ${formatDuration(age)} old; stale after ${formatDuration(spec.staleAfterSteps * this.stepSeconds)}`,
      };
    }
    const points: ForecastPoint[] = this.latest.map((p, i) => {
      const value = this.demand(p.z);
      return { t: origin + (i + 1) * this.stepSeconds, h: i + 1, value, upper: Math.max(value, this.demand(p.upperZ)), model: p.model };
    });
    const d = spec.decisionHorizonSteps;
    const decision = this.latest[d - 1];
    const fallbackReason = this.fallbackReason(decision);
    return {
      valid: true,
      model: decision.model,
      originSeconds: origin,
      stepSeconds: this.stepSeconds,
      horizonSteps: this.H,
      decisionHorizonSteps: d,
      points,
      backtest: {
        windowSeconds: this.backtestWindowSteps * this.stepSeconds,
        upperQuantile: spec.upperQuantile,
        horizons: this.backtest.map((b, i) => b.summary(i + 1)).filter((s): s is HorizonBacktest => s !== undefined),
        candidates: this.candidateScores(d),
      },
      ...(fallbackReason ? { fallbackReason } : {}),
    };
  }

  private reset(): void {
    this.models.splice(0, this.models.length, ...this.definitions.map((def) => def.create()));
    this.scoreSum.fill(0);
    this.scoreWeight.fill(0);
    this.scoreCount.fill(0);
    this.pendingOrigin.fill(Number.NaN);
    this.residuals.splice(0, this.residuals.length, ...this.residuals.map((w) => new SortedWindow(w.capacity)));
    this.quantileLevel.fill(this.spec.upperQuantile);
    this.backtest.splice(0, this.backtest.length, ...this.backtest.map(() => new TrailingAccuracy(this.backtestWindowSteps)));
    this.lastStep = undefined;
    this.firstValidStep = undefined;
    this.lastValidZ = undefined;
    this.diffSquares = 0;
    this.diffCount = 0;
    this.dropoutLevelZ = undefined;
    this.dropoutRun = 0;
    this.latest = [];
  }

  private advance(step: number, raw: number | null | undefined): void {
    const z = this.accept(raw);
    if (z !== undefined) this.score(step, this.demand(z), z);
    else this.backtest.forEach((b) => b.clear(step));
    for (const model of this.models) model.observe(step, z);
    this.lastStep = step;
    if (z !== undefined) {
      this.firstValidStep ??= step;
      if (this.lastValidZ !== undefined) {
        this.diffSquares += (z - this.lastValidZ) ** 2;
        this.diffCount += 1;
      }
      this.lastValidZ = z;
    }
    if (this.firstValidStep !== undefined) this.emit(step);
  }

  /** The log-demand of a raw value, or undefined when it is missing or a collector dropout. */
  private accept(raw: number | null | undefined): number | undefined {
    const spec = this.spec;
    if (raw === null || raw === undefined || !Number.isFinite(raw) || raw < 0) return undefined;
    if (spec.zeroIsGap && raw === 0) return undefined;
    if (this.dropoutLevelZ !== undefined) {
      const level = this.demand(this.dropoutLevelZ);
      if (level >= spec.dropoutMinLevel && raw < spec.dropoutFraction * level) {
        this.dropoutRun += 1;
        if (this.dropoutRun * this.stepSeconds <= spec.dropoutMaxSeconds) return undefined;
      } else {
        this.dropoutRun = 0;
      }
    }
    const z = Math.log(raw + spec.demandFloor);
    this.dropoutLevelZ = this.dropoutLevelZ === undefined ? z : this.dropoutLevelZ + this.dropoutAlpha * (z - this.dropoutLevelZ);
    return z;
  }

  /** Scores every forecast whose target is this step: candidate ranking, calibration, backtest. */
  private score(step: number, actual: number, z: number): void {
    const { H, M } = this;
    for (let i = 0; i < this.scoreSum.length; i += 1) {
      this.scoreSum[i] *= this.decay;
      this.scoreWeight[i] *= this.decay;
    }
    const miss = 1 - this.spec.upperQuantile;
    for (let h = 1; h <= H; h += 1) {
      const origin = step - h;
      const slot = positiveMod(origin, this.ringSize);
      if (this.pendingOrigin[slot] !== origin) {
        this.backtest[h - 1].clear(step);
        continue;
      }
      for (let c = 0; c <= M; c += 1) {
        const p = this.pendingZ[(slot * (M + 1) + c) * H + h - 1];
        if (Number.isNaN(p)) continue;
        const cell = c * H + h - 1;
        // absolute log error: relative error for busy series, and zeros of sparse ones do not score 200 %
        this.scoreSum[cell] += Math.abs(z - p);
        this.scoreWeight[cell] += 1;
        this.scoreCount[cell] += 1;
      }
      const ez = this.emittedZ[slot * H + h - 1];
      if (Number.isNaN(ez)) {
        this.backtest[h - 1].clear(step);
        continue;
      }
      const hit = z <= this.emittedUpperZ[slot * H + h - 1];
      this.residuals[h - 1].push(z - ez);
      const level = this.quantileLevel[h - 1] + this.spec.coverageAdaptationRate * ((hit ? 0 : 1) - miss);
      this.quantileLevel[h - 1] = Math.min(1, Math.max(0.5, level));
      const point = this.demand(ez);
      this.backtest[h - 1].record(step, smapeTerm(actual, point), Math.abs(actual - point), hit);
    }
  }

  /** Forecasts from origin `step` for every candidate and horizon, then what is emitted per horizon. */
  private emit(step: number): void {
    const { H, M } = this;
    const slot = positiveMod(step, this.ringSize);
    this.pendingOrigin[slot] = step;
    const base = slot * (M + 1) * H;
    const history = step - (this.firstValidStep as number);
    for (let c = 0; c < M; c += 1) {
      const warm = history >= this.definitions[c].warmupSteps;
      for (let h = 1; h <= H; h += 1) {
        const p = warm ? this.models[c].predict(h) : undefined;
        this.pendingZ[base + c * H + h - 1] = p ?? Number.NaN;
      }
    }
    const emitted: EmittedPoint[] = [];
    for (let h = 1; h <= H; h += 1) {
      const choice = this.select(base, h);
      this.pendingZ[base + M * H + h - 1] = choice.blendZ ?? Number.NaN;
      const upper = this.upperOffset(h);
      const upperZ = choice.z + Math.max(0, upper.offset);
      this.emittedZ[slot * H + h - 1] = choice.z;
      this.emittedUpperZ[slot * H + h - 1] = upperZ;
      emitted.push({
        z: choice.z,
        upperZ,
        model: choice.model,
        selectedByBacktest: choice.selectedByBacktest,
        upperSource: upper.source,
        calibrationSamples: this.residuals[h - 1].size,
      });
    }
    this.latest = emitted;
  }

  /** Exponentially weighted mean absolute log error of candidate c at horizon h. */
  private recentError(c: number, h: number): number {
    const cell = c * this.H + h - 1;
    return this.scoreSum[cell] / this.scoreWeight[cell];
  }

  private select(base: number, h: number): { z: number; model: string; selectedByBacktest: boolean; blendZ?: number } {
    const { H, M, spec } = this;
    const ranked: number[] = [];
    for (let c = 0; c < M; c += 1) {
      if (Number.isNaN(this.pendingZ[base + c * H + h - 1])) continue;
      if (this.scoreCount[c * H + h - 1] < spec.minBacktestSamples) continue;
      ranked.push(c);
    }
    // ties go to the earlier (simpler) candidate, so the choice is deterministic
    ranked.sort((a, b) => this.recentError(a, h) - this.recentError(b, h) || a - b);
    if (ranked.length === 0) {
      const fallback = Number.isNaN(this.pendingZ[base + this.shortHistoryIndex * H + h - 1]) ? 0 : this.shortHistoryIndex;
      return { z: this.pendingZ[base + fallback * H + h - 1], model: this.definitions[fallback].name, selectedByBacktest: false };
    }
    const best = ranked[0];
    const single = { z: this.pendingZ[base + best * H + h - 1], model: this.definitions[best].name, selectedByBacktest: true };
    if (spec.blendSize < 2 || ranked.length < 2) return single;
    if (spec.blendTemperature > 0) return this.softBlend(base, h, ranked);
    const members = ranked.slice(0, spec.blendSize);
    let sum = 0;
    for (const c of members) sum += this.pendingZ[base + c * H + h - 1];
    const blendZ = sum / members.length;
    const blendReady = this.scoreCount[M * H + h - 1] >= spec.minBacktestSamples;
    if (blendReady && this.recentError(M, h) < this.recentError(best, h)) {
      return { z: blendZ, model: `blend(${members.map((c) => this.definitions[c].name).join('+')})`, selectedByBacktest: true, blendZ };
    }
    return { ...single, blendZ };
  }

  /**
   * Exponential-weights combination of every scored candidate (ranked best first): a soft version of
   * picking the best, so the choice does not flip between near-equal candidates on the last few errors.
   * Named after the members with the largest weights (at most blendSize, each ≥ 10 % of the total).
   */
  private softBlend(
    base: number,
    h: number,
    ranked: readonly number[],
  ): { z: number; model: string; selectedByBacktest: boolean; blendZ: number } {
    const { H } = this;
    const bestError = this.recentError(ranked[0], h);
    // a perfect best candidate (error 0) takes all the weight rather than dividing by zero
    const scale = Math.max(this.spec.blendTemperature * bestError, 1e-12);
    const weights = ranked.map((c) => Math.exp(-(this.recentError(c, h) - bestError) / scale));
    let total = 0;
    let sum = 0;
    ranked.forEach((c, i) => {
      total += weights[i];
      sum += weights[i] * this.pendingZ[base + c * H + h - 1];
    });
    const blendZ = sum / total;
    const named = ranked
      .map((c, i) => ({ c, w: weights[i] / total }))
      .filter((m) => m.w >= 0.1)
      .sort((a, b) => b.w - a.w || a.c - b.c)
      .slice(0, this.spec.blendSize);
    const model =
      named.length === 1 ? this.definitions[named[0].c].name : `blend(${named.map((m) => this.definitions[m.c].name).join('+')})`;
    return { z: blendZ, model, selectedByBacktest: true, blendZ };
  }

  /** Offset from the point to the upper quantile in log space, and where it came from. */
  private upperOffset(h: number): { offset: number; source: EmittedPoint['upperSource'] } {
    const window = this.residuals[h - 1];
    const level = this.quantileLevel[h - 1];
    if (window.size >= this.spec.minCalibrationSamples) return { offset: window.quantile(level) as number, source: 'empirical' };
    if (this.diffCount >= 3) {
      // random walk: h-step spread grows with √h; wide on purpose until real residuals exist
      const sd = Math.sqrt(this.diffSquares / this.diffCount);
      return { offset: normalQuantile(this.spec.upperQuantile) * sd * Math.sqrt(h), source: 'random-walk' };
    }
    return { offset: Math.log(this.spec.coldStartUpperRatio), source: 'cold-start' };
  }

  private candidateScores(h: number): CandidateScore[] {
    const scores: CandidateScore[] = [];
    for (let c = 0; c < this.M; c += 1) {
      const samples = this.scoreCount[c * this.H + h - 1];
      if (samples > 0) scores.push({ model: this.definitions[c].name, logError: this.recentError(c, h), samples });
    }
    const blendSamples = this.scoreCount[this.M * this.H + h - 1];
    if (blendSamples > 0) scores.push({ model: 'blend', logError: this.recentError(this.M, h), samples: blendSamples });
    return scores.sort((a, b) => a.logError - b.logError);
  }

  private fallbackReason(decision: EmittedPoint): string | undefined {
    const reasons: string[] = [];
    const historySteps = (this.lastStep as number) - (this.firstValidStep as number) + 1;
    const dailyNeed = dailySeasonWarmupSteps(this.periods);
    if (dailyNeed !== undefined && historySteps < dailyNeed) {
      reasons.push(
        `only ${formatDuration(historySteps * this.stepSeconds)} of history; daily season needs ${formatDuration(dailyNeed * this.stepSeconds)}`,
      );
    }
    const d = this.spec.decisionHorizonSteps;
    if (!decision.selectedByBacktest) {
      reasons.push(`no candidate has ${this.spec.minBacktestSamples} scored forecasts at h=${d} yet; using ${decision.model}`);
    }
    if (decision.upperSource !== 'empirical') {
      reasons.push(
        `upper quantile from ${decision.upperSource} spread until ${this.spec.minCalibrationSamples} residuals at h=${d} (have ${decision.calibrationSamples})`,
      );
    }
    return reasons.length ? reasons.join('; ') : undefined;
  }

  private demand(z: number): number {
    const value = Math.exp(z) - this.spec.demandFloor;
    // exp(ln(floor)) - floor leaves rounding dust where the forecast is zero
    return value > 1e-9 * this.spec.demandFloor ? value : 0;
  }
}
