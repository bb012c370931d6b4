import { performance } from 'node:perf_hooks';
import type { Clock } from '@maas/platform';

/** The platform clock plus a monotonic reading for durations and timeouts on the request path. */
export interface GatewayClock extends Clock {
  /** Milliseconds from an arbitrary origin, never going back. */
  monotonic(): number;
}
export const GATEWAY_CLOCK = Symbol('GATEWAY_CLOCK');
export const gatewayClock: GatewayClock = { now: () => Date.now(), monotonic: () => performance.now() };
