/**
 * Why a usage event could not be written to the ledger:
 * - `unavailable`: the database is away (refused, terminated, timed out, starting, full); the event waits.
 * - `invalid`: the database refuses this event's values (SQLSTATE class 22 data exception, 23 integrity);
 *   it will refuse them every time, so the event is dead-lettered until someone fixes it.
 * - `unknown`: anything else (a bug, a missing table): retried, and logged as an error each time.
 */
export type LedgerFailure = { kind: 'unavailable' | 'invalid' | 'unknown'; reason: string };

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);
// 08 connection exception, 53 insufficient resources, 57P01-03 shutdown / cannot connect now, 58 system error, 40 rollback (serialization, deadlock), 55P03 lock timeout, 57014 statement timeout.
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0|58|40)|^55P03$|^57014$/;
const INVALID_SQLSTATE = /^(22|23)/;
const UNAVAILABLE_MESSAGE =
  /connection terminated|connection timeout|timeout exceeded when trying to connect|connection ended|client has encountered a connection error|the database system is (starting up|shutting down|in recovery mode)|too many clients|driver not connected|cannot use a pool after calling end|read ECONNRESET|connect ECONNREFUSED/i;

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  driverError?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The error and what it wraps (TypeORM's driverError, a cause, an AggregateError's errors). */
function chain(err: unknown, depth = 0): ErrorLike[] {
  if (!err || typeof err !== 'object' || depth > 4) return [];
  const e = err as ErrorLike;
  const nested = [e.driverError, e.cause, ...(Array.isArray(e.errors) ? e.errors : [])];
  return [e, ...nested.flatMap((n) => chain(n, depth + 1))];
}

export function classifyLedgerError(err: unknown): LedgerFailure {
  const errors = chain(err);
  const reason = describe(err);
  for (const e of errors) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code)) return { kind: 'unavailable', reason };
    if (INVALID_SQLSTATE.test(code) && code !== '23505') return { kind: 'invalid', reason };
  }
  if (errors.some((e) => typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message))) return { kind: 'unavailable', reason };
  return { kind: 'unknown', reason };
}

/** One line: the SQLSTATE or error code and the message, never a query's parameters. */
export function describe(err: unknown): string {
  const e = (err ?? {}) as ErrorLike;
  const code = [e.code, (e.driverError as ErrorLike | undefined)?.code].find((c) => typeof c === 'string');
  const message = typeof e.message === 'string' && e.message ? e.message : String(err);
  return (code ? `${code}: ${message}` : message).replace(/\u0000/g, '\\0').slice(0, 500);
}
