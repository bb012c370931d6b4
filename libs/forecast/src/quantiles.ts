/** The last `capacity` values in arrival order and in sorted order, for quantiles in O(capacity) per push. */
export class SortedWindow {
  private readonly fifo: number[] = [];
  private readonly sorted: number[] = [];
  constructor(readonly capacity: number) {}

  get size(): number {
    return this.sorted.length;
  }

  push(value: number): void {
    if (this.fifo.length === this.capacity) {
      const old = this.fifo.shift() as number;
      this.sorted.splice(lowerBound(this.sorted, old), 1);
    }
    this.fifo.push(value);
    this.sorted.splice(lowerBound(this.sorted, value), 0, value);
  }

  /** Linearly interpolated empirical quantile (type 7); undefined when empty. */
  quantile(level: number): number | undefined {
    return empiricalQuantile(this.sorted, level);
  }
}

/** Quantile of an ascending array, linear interpolation between order statistics (type 7). */
export function empiricalQuantile(ascending: readonly number[], level: number): number | undefined {
  const n = ascending.length;
  if (n === 0) return undefined;
  const position = Math.min(Math.max(level, 0), 1) * (n - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, n - 1);
  return ascending[below] + (position - below) * (ascending[above] - ascending[below]);
}

function lowerBound(ascending: readonly number[], value: number): number {
  let lo = 0;
  let hi = ascending.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ascending[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number): number =>
    (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}
