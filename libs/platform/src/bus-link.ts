import type { NatsConnection } from 'nats';
import type { Clock } from './clock';

/** Whether this process's NATS connection is up, and since when (epoch ms). */
export interface BusLinkState {
  readonly connected: boolean;
  readonly since: number;
}

/**
 * What a service may do without the bus: it says whether it can still serve and with what
 * (e.g. a gateway routing from its last-known worker list). A service that registers none
 * cannot do its job without NATS, and `/health` says 503 while the bus is down.
 */
export type ServingWithoutBus = () => { readonly serving: boolean; readonly detail: Record<string, unknown> };

/**
 * The NATS link as services see it: up or down since when, with a callback on each change,
 * so a service can hold state through an outage and resynchronise when the link comes back.
 */
export class BusLink {
  private current: BusLinkState;
  private readonly listeners = new Set<(state: BusLinkState) => void>();
  private servingWithoutBus?: ServingWithoutBus;

  constructor(
    nc: NatsConnection,
    private readonly clock: Clock,
  ) {
    this.current = { connected: !nc.isClosed(), since: clock.now() };
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect') this.set(false);
        else if (status.type === 'reconnect') this.set(true);
      }
    })();
    void nc.closed().then(() => this.set(false));
  }

  get state(): BusLinkState {
    return this.current;
  }

  /** Calls `listener` on every change of the link; returns the unsubscribe. */
  onChange(listener: (state: BusLinkState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Declares that this service can serve (degraded) while the bus is down, and how to tell. */
  serveWithoutBus(assess: ServingWithoutBus): void {
    this.servingWithoutBus = assess;
  }

  /** Undefined when the service declared nothing: it cannot serve without NATS. */
  assessWithoutBus(): ReturnType<ServingWithoutBus> | undefined {
    return this.servingWithoutBus?.();
  }

  private set(connected: boolean): void {
    if (connected === this.current.connected) return;
    this.current = { connected, since: this.clock.now() };
    for (const listener of this.listeners) listener(this.current);
  }
}
