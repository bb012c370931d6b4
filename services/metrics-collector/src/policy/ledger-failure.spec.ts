import { classifyLedgerError } from './ledger-failure';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });
/** TypeORM's QueryFailedError keeps the driver's error beside its own. */
const queryFailed = (driverError: Error) =>
  Object.assign(new Error(driverError.message), { driverError, query: 'INSERT …', parameters: ['secret'] });

describe('classifyLedgerError', () => {
  it.each([
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    [
      'refused on every address',
      new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' })], ''),
    ],
    ['connection terminated', new Error('Connection terminated unexpectedly')],
    ['pool timeout', new Error('timeout exceeded when trying to connect')],
    ['server shutting down (57P01)', queryFailed(pgError('57P01', 'terminating connection due to administrator command'))],
    ['starting up (57P03)', pgError('57P03', 'the database system is starting up')],
    ['too many clients (53300)', pgError('53300', 'sorry, too many clients already')],
    ['deadlock (40P01)', queryFailed(pgError('40P01', 'deadlock detected'))],
  ])('%s: the database is away, the event waits', (_what, err) => {
    expect(classifyLedgerError(err).kind).toBe('unavailable');
  });

  it.each([
    ['NUL byte (22021)', queryFailed(pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00'))],
    ['integer out of range (22003)', queryFailed(pgError('22003', 'value "3000000000" is out of range for type integer'))],
    ['timestamp out of range (22008)', queryFailed(pgError('22008', 'timestamp out of range'))],
    ['not null (23502)', queryFailed(pgError('23502', 'null value in column "user_id"'))],
  ])('%s: the event is invalid for good', (what, err) => {
    expect(classifyLedgerError(err)).toMatchObject({ kind: 'invalid', reason: expect.stringContaining(what.slice(-6, -1)) });
  });

  it('leaves anything else (a missing table, a bug) unknown, and never puts query parameters in the reason', () => {
    const f = classifyLedgerError(queryFailed(pgError('42P01', 'relation "usage_records" does not exist')));
    expect(f.kind).toBe('unknown');
    expect(f.reason).not.toContain('secret');
    expect(classifyLedgerError(new TypeError("Cannot read properties of undefined (reading 'x')")).kind).toBe('unknown');
  });
});
