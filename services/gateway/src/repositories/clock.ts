import { type Clock, systemClock } from '@maas/platform';

/** The gateway's clock is the platform's (wall time and a monotonic reading), bound under its own token. */
export type GatewayClock = Clock;
export const GATEWAY_CLOCK = Symbol('GATEWAY_CLOCK');
export const gatewayClock: Clock = systemClock;
