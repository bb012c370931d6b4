import { EngineProfile, SimulatedEngine } from '@maas/engine-sim';
import { Shape } from './simulation';

export interface ClosedLoopRow {
  readonly concurrency: number;
  readonly requests: number;
  readonly simSeconds: number;
  readonly requestsPerSecond: number;
  readonly outputTokensPerSecond: number;
}

/**
 * `concurrency` clients start together at one simulated engine, each sending `rounds` requests of
 * `shape` back to back, every prompt different (no prefix cache hits): bench/batch.ts's peak phase in
 * virtual time.
 */
export function closedLoop(profile: EngineProfile, shape: Shape, concurrency: number, rounds: number): ClosedLoopRow {
  const engine = new SimulatedEngine({ profile, startAt: 0, startupSeconds: 0 });
  let sent = 0;
  const send = (now: number) => engine.submit({ id: `r${sent++}`, ...shape }, now);
  for (let i = 0; i < concurrency; i++) send(0);
  let done = 0;
  let tokens = 0;
  let end = 0;
  for (let t = engine.nextEventTime(); t !== undefined; t = engine.nextEventTime()) {
    for (const event of engine.advance(t)) {
      if (event.type !== 'finished') continue;
      done += 1;
      tokens += event.outputTokens;
      end = event.time;
      if (sent < concurrency * rounds) send(event.time);
    }
  }
  return { concurrency, requests: done, simSeconds: end, requestsPerSecond: done / end, outputTokensPerSecond: tokens / end };
}

/** The sweep and its best row (highest output tokens/s). */
export function peakSweep(
  profile: EngineProfile,
  shape: Shape,
  concurrencies: readonly number[],
  rounds: number,
): { rows: ClosedLoopRow[]; best: ClosedLoopRow } {
  const rows = concurrencies.map((c) => closedLoop(profile, shape, c, rounds));
  return { rows, best: rows.reduce((a, b) => (b.outputTokensPerSecond > a.outputTokensPerSecond ? b : a)) };
}
