import type { NatsConnection } from 'nats';
import type { Clock } from './clock';

/** Whether this process's NATS connection is up, and since when (epoch ms). */
export interface BusLinkState {
  readonly connected: boolean;
  readonly since: number;
  /** Why it is down: the client's disconnect, or a server that stopped answering pings. */
  readonly reason?: string;
}

export interface BusLinkOptions {
  /** How often the server is pinged, to notice one that hangs without closing the socket. */
  readonly probeEveryMs?: number;
  /** A ping unanswered this long marks the link down until one is answered. */
  readonly probeTimeoutMs?: number;
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
 * A closed socket is reported by the client at once; a server that hangs (a partition, a
 * stopped process) only after its pings go unanswered for 20 s, so the link pings every second
 * itself and calls a ping unanswered for 2 s an outage.
 */
export class BusLink {
  private current: BusLinkState;
  private readonly listeners = new Set<(state: BusLinkState) => void>();
  private servingWithoutBus?: ServingWithoutBus;
  private readonly probeTimer: NodeJS.Timeout;
  private probing = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly clock: Clock,
    private readonly options: BusLinkOptions = {},
  ) {
    this.current = { connected: !nc.isClosed(), since: clock.now() };
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect') this.set(false, 'disconnected');
        else if (status.type === 'reconnect') this.set(true);
      }
    })();
    this.probeTimer = setInterval(() => void this.probe(), options.probeEveryMs ?? 1000);
    this.probeTimer.unref();
    void nc.closed().then(() => {
      clearInterval(this.probeTimer);
      this.set(false, 'connection closed');
    });
  }

  private async probe(): Promise<void> {
    if (this.probing || this.nc.isClosed()) return;
    this.probing = true;
    const timeoutMs = this.options.probeTimeoutMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.nc.flush(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer to a ping in ${timeoutMs} ms`)), timeoutMs))),
      ]);
      // A link the client called down comes back with its reconnect event, not with a ping answered from the buffer.
      if (this.current.reason?.startsWith('no answer')) this.set(true);
    } catch (err) {
      if (this.current.connected) this.set(false, (err as Error).message);
    } finally {
      clearTimeout(timer);
      this.probing = false;
    }
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

  private set(connected: boolean, reason?: string): void {
    if (connected === this.current.connected) return;
    this.current = { connected, since: this.clock.now(), ...(reason ? { reason } : {}) };
    for (const listener of this.listeners) listener(this.current);
  }
}
