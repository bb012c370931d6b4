/** Symmetric absolute percentage error of one forecast, in [0, 2]; 0 when both are 0. */
export function smapeTerm(actual: number, forecast: number): number {
  const scale = Math.abs(actual) + Math.abs(forecast);
  return scale === 0 ? 0 : (2 * Math.abs(actual - forecast)) / scale;
}

export interface AccuracySummary {
  /** Scored forecasts. */
  readonly samples: number;
  /** Mean sMAPE, in percent (0..200). */
  readonly smape: number;
  /** Mean absolute error, in the series' unit. */
  readonly mae: number;
  /** Share of actuals at or below the upper quantile, 0..1; undefined when no upper was given. */
  readonly coverage?: number;
}

/** Running sMAPE / MAE / coverage over scored forecasts. */
export class AccuracyTally {
  private n = 0;
  private smapeSum = 0;
  private absSum = 0;
  private withUpper = 0;
  private hits = 0;

  add(actual: number, forecast: number, upper?: number): void {
    this.n += 1;
    this.smapeSum += smapeTerm(actual, forecast);
    this.absSum += Math.abs(actual - forecast);
    if (upper !== undefined) {
      this.withUpper += 1;
      if (actual <= upper) this.hits += 1;
    }
  }

  summary(): AccuracySummary {
    const n = this.n;
    return {
      samples: n,
      smape: n ? (100 * this.smapeSum) / n : Number.NaN,
      mae: n ? this.absSum / n : Number.NaN,
      ...(this.withUpper ? { coverage: this.hits / this.withUpper } : {}),
    };
  }
}
