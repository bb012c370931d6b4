/**
 * Averages fine-grained observations (10 s aggregates) into the forecaster's coarser steps. A step
 * is complete once an observation of a later step arrives; its value is the time-weighted mean.
 */
export class StepAccumulator {
  private stepStart?: number;
  private weighted = 0;
  private seconds = 0;

  constructor(private readonly stepSeconds: number) {}

  /** Adds an observation; returns the steps it completed as `{ end, value }` (end = label, seconds). */
  add(atSeconds: number, durationSeconds: number, value: number): { end: number; value: number | null }[] {
    const start = Math.floor(atSeconds / this.stepSeconds) * this.stepSeconds;
    const completed: { end: number; value: number | null }[] = [];
    if (this.stepStart === undefined) this.stepStart = start;
    if (start < this.stepStart) return completed; // out of order: the step was already emitted
    while (start > this.stepStart) {
      completed.push({ end: this.stepStart + this.stepSeconds, value: this.seconds > 0 ? this.weighted / this.seconds : null });
      this.stepStart += this.stepSeconds;
      this.weighted = 0;
      this.seconds = 0;
    }
    this.weighted += value * durationSeconds;
    this.seconds += durationSeconds;
    return completed;
  }
}
