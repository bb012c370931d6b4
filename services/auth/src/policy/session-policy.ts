/** When a browser session is still good. Pure: times in, verdict out. */

export interface SessionTimes {
  expiresAt: number;
  lastSeenAt: number;
  revokedAt: number | null;
}

export type SessionStatus = 'active' | 'revoked' | 'expired' | 'idle';

/** Last-seen is written at most this often, so a busy page does not write on every request. */
export const TOUCH_INTERVAL_MS = 60_000;

export function sessionStatus(s: SessionTimes, now: number, idleMs: number): SessionStatus {
  if (s.revokedAt !== null) return 'revoked';
  if (now >= s.expiresAt) return 'expired';
  if (now - s.lastSeenAt >= idleMs) return 'idle';
  return 'active';
}

export function needsTouch(lastSeenAt: number, now: number): boolean {
  return now - lastSeenAt >= TOUCH_INTERVAL_MS;
}
