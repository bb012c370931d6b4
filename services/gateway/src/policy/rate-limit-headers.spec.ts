import { formatReset, KeyLimiter, rateLimitHeaders, tighter } from './key-limits';
import { KeyTokenWindows } from './token-windows';

const MIN = 60_000;
const H = 3_600_000;

describe('OpenAI rate-limit headers', () => {
  it.each([
    [0, '0s'],
    [-5, '0s'],
    [17, '17ms'],
    [999.2, '1s'],
    [1000, '1s'],
    [1500, '1.5s'],
    [59_999, '59.999s'],
    [60_000, '1m0s'],
    [360_000, '6m0s'],
    [61_000, '1m1s'],
    [H + 30_000, '1h0m30s'],
    [7 * 24 * H, '168h0m0s'],
  ])('writes a reset of %d ms as %s', (ms, text) => {
    expect(formatReset(ms)).toBe(text);
  });

  it('counts the admitted request: remaining requests fall by one, and reset once its second is a minute old', () => {
    const l = new KeyLimiter();
    const limits = { requestsPerMinute: 3, tokensPerMinute: 1000 };
    const now = 10 * MIN + 15_000;
    expect(l.standing('k', limits, now)).toEqual({
      requests: { limit: 3, remaining: 3, resetMs: 0 },
      tokens: { limit: 1000, remaining: 1000, resetMs: 0 },
    });
    l.admit('k', limits, now);
    l.release('k', 240, now);
    // Counted in the second starting at 10 min 15 s: it counts in full until 60 s after that second ends.
    expect(l.standing('k', limits, now)).toEqual({
      requests: { limit: 3, remaining: 2, resetMs: 61_000 },
      tokens: { limit: 1000, remaining: 760, resetMs: 61_000 },
    });
    expect(rateLimitHeaders(l.standing('k', limits, now).requests, l.standing('k', limits, now).tokens)).toEqual({
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '2',
      'x-ratelimit-reset-requests': '1m1s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '760',
      'x-ratelimit-reset-tokens': '1m1s',
    });
    expect(l.standing('k', limits, 11 * MIN + 15_999).tokens).toEqual({ limit: 1000, remaining: 760, resetMs: 1 });
    expect(l.standing('k', limits, 11 * MIN + 16_000).requests).toEqual({ limit: 3, remaining: 3, resetMs: 0 });
  });

  it('at the ceiling says nothing remains, in step with the refusal', () => {
    const l = new KeyLimiter();
    const limits = { requestsPerMinute: 2 };
    l.admit('k', limits, 0);
    l.admit('k', limits, 1);
    expect(l.admit('k', limits, 2)).toMatchObject({ limit: 'requests_per_minute' });
    expect(l.standing('k', limits, 2).requests).toMatchObject({ remaining: 0 });
    expect(l.standing('k', limits, 2).tokens).toBeUndefined();
  });

  it('sends nothing for a key without request or token limits', () => {
    expect(rateLimitHeaders(undefined, undefined)).toEqual({});
    expect(new KeyLimiter().standing('k', { maxConcurrent: 2 }, 0)).toEqual({});
  });

  it('reports the token window with the least left, and when all its tokens have left it', () => {
    const w = new KeyTokenWindows({ shortMs: 3 * H, longMs: 7 * 24 * H });
    const t0 = 1_700_000_000_000;
    w.add('chat', 700, t0);
    w.add('chat', 200, t0 + H);
    const limits = { chatShortWindowTokens: 1000, chatLongWindowTokens: 5000 };
    expect(w.standing('chat', limits, t0 + 2 * H)).toEqual({ limit: 1000, remaining: 100, resetMs: 2 * H });
    // Once the short window has emptied, the long one is the tighter.
    expect(w.standing('chat', { chatShortWindowTokens: 1000, chatLongWindowTokens: 1200 }, t0 + 5 * H)).toEqual({
      limit: 1200,
      remaining: 300,
      resetMs: 7 * 24 * H - 4 * H,
    });
    expect(w.standing('batch', limits, t0)).toBeUndefined();
  });

  it('picks the tighter of the per-minute tokens and a window', () => {
    const minute = { limit: 10_000, remaining: 9000, resetMs: 60_000 };
    const window = { limit: 100_000, remaining: 500, resetMs: 3 * H };
    expect(tighter(minute, window)).toBe(window);
    expect(tighter(minute, undefined)).toBe(minute);
    expect(tighter(undefined, window)).toBe(window);
    expect(tighter({ ...minute, remaining: 0 }, { ...window, remaining: 0 })).toMatchObject({ resetMs: 3 * H });
  });
});
