/**
 * Failed key checks per client address: past `maxPerMinute` in a minute, the address is refused
 * (429) until that minute is over, without asking key-registry. Time is passed in; no I/O.
 */
export interface AuthFailureSpec {
  readonly maxPerMinute: number;
  /** Addresses remembered at most (oldest first out). */
  readonly maxAddresses: number;
}

interface Window {
  readonly startedAt: number;
  failures: number;
}

const MINUTE_MS = 60_000;

export class AuthFailureLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly spec: AuthFailureSpec) {}

  /** Seconds until the address may try again, or undefined when it may now. */
  blocked(address: string, now: number): number | undefined {
    const w = this.windows.get(address);
    if (!w || now - w.startedAt >= MINUTE_MS || w.failures < this.spec.maxPerMinute) return undefined;
    return Math.max(1, Math.ceil((w.startedAt + MINUTE_MS - now) / 1000));
  }

  failed(address: string, now: number): void {
    const w = this.windows.get(address);
    if (w && now - w.startedAt < MINUTE_MS) {
      w.failures += 1;
      return;
    }
    this.windows.delete(address);
    this.windows.set(address, { startedAt: now, failures: 1 });
    if (this.windows.size > this.spec.maxAddresses) this.windows.delete(this.windows.keys().next().value as string);
  }
}
