import { performance } from 'node:perf_hooks';
import { SimulatedEngine } from './engine';
import { EngineEvent, EngineRequest, EngineSnapshot } from './engine-types';

export type EventListener = (event: EngineEvent) => void;

/**
 * Runs a SimulatedEngine on the wall clock: simulated seconds = wall seconds × timeScale since
 * construction. One timer at the engine's next event time; events go to per-request listeners.
 */
export class RealtimeEngine {
  private readonly origin: number;
  private readonly listeners = new Map<string, EventListener>();
  private readonly observers: EventListener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;

  constructor(
    readonly engine: SimulatedEngine,
    readonly timeScale = 1,
    private readonly wallMs: () => number = () => performance.now(),
  ) {
    if (!(timeScale > 0)) throw new Error(`timeScale must be positive, got ${timeScale}`);
    this.origin = wallMs();
    this.schedule();
  }

  /** Simulated seconds since start. */
  now(): number {
    return ((this.wallMs() - this.origin) / 1000) * this.timeScale;
  }

  /** Sees every event (metrics, logs, the ready signal). */
  observe(observer: EventListener): void {
    this.observers.push(observer);
  }

  /** Events for this request go to `listener` until it finishes or fails. */
  submit(request: EngineRequest, listener: EventListener): void {
    this.listeners.set(request.id, listener);
    this.engine.submit(request, this.now());
    this.schedule();
  }

  cancel(id: string): void {
    if (!this.listeners.delete(id)) return;
    this.engine.cancel(id, this.now());
    this.schedule();
  }

  crash(message?: string): void {
    this.engine.crash(this.now(), message);
    this.pump();
  }

  snapshot(): EngineSnapshot {
    const snap = this.engine.snapshot(this.now());
    this.schedule();
    return snap;
  }

  /** Delivers whatever is due now, without waiting for the timer. */
  sync(): void {
    this.pump();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    for (const event of this.engine.advance(this.now())) {
      for (const observer of this.observers) observer(event);
      if (event.type === 'ready' || event.type === 'crashed') continue;
      const listener = this.listeners.get(event.id);
      if (event.type === 'finished' || event.type === 'failed') this.listeners.delete(event.id);
      listener?.(event);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    const next = this.engine.nextEventTime();
    if (next === undefined || next >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    // Rounded up: Node truncates fractional delays, and an early wake-up finds nothing to do.
    const delayMs = Math.max(0, Math.ceil(((next - this.now()) / this.timeScale) * 1000));
    this.timer = setTimeout(() => this.pump(), delayMs);
  }
}
