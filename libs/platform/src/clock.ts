import { performance } from 'node:perf_hooks';

/** The one clock: policies get `now` from here, tests may provide their own. */
export interface Clock {
  /** Wall time, epoch milliseconds. */
  now(): number;
  /** Milliseconds from an arbitrary origin, never going back: for durations and timeouts. */
  monotonic(): number;
}
export const CLOCK = Symbol('CLOCK');
export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() };
