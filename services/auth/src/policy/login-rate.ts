/** How many logins each address may start in a window, and how many addresses are remembered. */
export interface LoginRateSpec {
  perWindow: number;
  windowMs: number;
  /** Past this many addresses, finished windows are forgotten first (bounded memory under a flood). */
  maxTracked: number;
}

export type RateVerdict = { ok: true } | { ok: false; retryAfterMs: number };

interface Window {
  startedAt: number;
  count: number;
}

/**
 * A fixed window per client address: each started login counts, and past `perWindow` the address
 * waits for its window to end. State is an explicit map the caller owns; time is a parameter.
 */
export function admitLogin(windows: Map<string, Window>, address: string, spec: LoginRateSpec, now: number): RateVerdict {
  let w = windows.get(address);
  if (!w || now - w.startedAt >= spec.windowMs) {
    if (!w && windows.size >= spec.maxTracked) forgetFinished(windows, spec, now);
    w = { startedAt: now, count: 0 };
    windows.set(address, w);
  }
  if (w.count >= spec.perWindow) return { ok: false, retryAfterMs: w.startedAt + spec.windowMs - now };
  w.count++;
  return { ok: true };
}

function forgetFinished(windows: Map<string, Window>, spec: LoginRateSpec, now: number): void {
  for (const [address, w] of windows) if (now - w.startedAt >= spec.windowMs) windows.delete(address);
  // Still full: the oldest go (Map keeps insertion order), so the newest addresses are still limited.
  for (const address of windows.keys()) {
    if (windows.size < spec.maxTracked) break;
    windows.delete(address);
  }
}
