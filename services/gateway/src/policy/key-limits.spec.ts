import { describeLimit, KeyLimiter } from './key-limits';

const MIN = 60_000;

describe('KeyLimiter', () => {
  it('refuses the request over the per-minute ceiling and says when to retry', () => {
    const l = new KeyLimiter();
    for (let i = 0; i < 3; i++) expect(l.admit('k', { requestsPerMinute: 3 }, 10 * MIN + i)).toBeUndefined();
    const refused = l.admit('k', { requestsPerMinute: 3 }, 10 * MIN + 1000);
    expect(refused).toMatchObject({ limit: 'requests_per_minute', used: 3, ceiling: 3 });
    expect(refused!.retryAfterSeconds).toBeGreaterThanOrEqual(59);
    expect(describeLimit(refused!)).toMatch(/requests per minute: used 3, limit 3; retry after \d+ s/);
  });

  it('slides: a request counts until the second it came in is a minute old, wherever the minute boundaries fall', () => {
    const l = new KeyLimiter();
    for (let i = 0; i < 4; i++) l.admit('k', { requestsPerMinute: 4 }, 10 * MIN + 50_000);
    for (let i = 0; i < 4; i++) l.release('k', 0, 10 * MIN + 50_000);
    expect(l.admit('k', { requestsPerMinute: 4 }, 11 * MIN + 20_000)).toMatchObject({
      limit: 'requests_per_minute',
      retryAfterSeconds: 31,
    });
    expect(l.admit('k', { requestsPerMinute: 4 }, 11 * MIN + 50_999)).toMatchObject({ limit: 'requests_per_minute', retryAfterSeconds: 1 });
    expect(l.admit('k', { requestsPerMinute: 4 }, 11 * MIN + 51_000)).toBeUndefined();
  });

  it('never admits more than the limit in any 60 s, a burst at the end of one minute followed by one late in the next', () => {
    const l = new KeyLimiter();
    const admitted: number[] = [];
    for (const t of [59_000, MIN + 58_000, 3 * MIN]) {
      for (let i = 0; i < 80; i++) {
        if (!l.admit('k', { requestsPerMinute: 60 }, t)) admitted.push(t);
        l.release('k', 0, t);
      }
    }
    const most = Math.max(...admitted.map((from) => admitted.filter((t) => t >= from && t < from + MIN).length));
    expect(most).toBe(60);
    expect(admitted.length).toBe(120);
  });

  it('counts concurrent requests until released', () => {
    const l = new KeyLimiter();
    expect(l.admit('k', { maxConcurrent: 1 }, 0)).toBeUndefined();
    expect(l.admit('k', { maxConcurrent: 1 }, 0)).toMatchObject({
      limit: 'concurrent_requests',
      used: 1,
      ceiling: 1,
      retryAfterSeconds: 1,
    });
    l.release('k', 10, 1);
    expect(l.admit('k', { maxConcurrent: 1 }, 2)).toBeUndefined();
    expect(l.concurrent('k')).toBe(1);
  });

  it('refuses once the tokens of the last minute reach the ceiling', () => {
    const l = new KeyLimiter();
    l.admit('k', { tokensPerMinute: 100 }, 0);
    l.release('k', 100, 10);
    expect(l.admit('k', { tokensPerMinute: 100 }, 20)).toMatchObject({ limit: 'tokens_per_minute', used: 100, ceiling: 100 });
    expect(l.admit('other', { tokensPerMinute: 100 }, 20)).toBeUndefined();
  });

  it('has no limits for a key without any', () => {
    const l = new KeyLimiter();
    for (let i = 0; i < 1000; i++) expect(l.admit('k', {}, i)).toBeUndefined();
  });
});
