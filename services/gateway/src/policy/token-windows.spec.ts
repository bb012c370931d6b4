import {
  describeWindowExceeded,
  describeWindowWouldExceed,
  KeyTokenWindows,
  ledgerInstants,
  usageReport,
  windowLabel,
} from './token-windows';

const spec = { shortMs: 3 * 3_600_000, longMs: 7 * 86_400_000 };
const H = 3_600_000;
const t0 = 1_700_000_000_000;

describe('token windows', () => {
  it('slides: tokens leave the short window after its length, and the 429 says when', () => {
    const w = new KeyTokenWindows(spec);
    w.add('chat', 70_000, t0);
    w.add('chat', 50_345, t0 + H);
    const e = w.exceeded('chat', { chatShortWindowTokens: 120_000 }, t0 + 2 * H)!;
    expect(e).toMatchObject({ kind: 'chat', window: 'short', used: 120_345, ceiling: 120_000, retryAfterSeconds: 3600 });
    expect(describeWindowExceeded(e)).toBe(
      'chat token limit for the 3-hour window reached: 120,345 of 120,000 tokens used; retry after 3,600 s',
    );
    expect(w.exceeded('chat', { chatShortWindowTokens: 120_000 }, t0 + 3 * H)).toBeUndefined();
    expect(w.used('chat', 'long', t0 + 3 * H)).toBe(120_345);
    expect(w.exceeded('batch', { chatShortWindowTokens: 1 }, t0 + H)).toBeUndefined();
  });

  it.each([
    // [what, limits, used at t0 / t0+H, extra, expected (undefined: admitted)]
    ['fits', { batchShortWindowTokens: 1000 }, [300, 200], 500, undefined],
    [
      'would pass the short ceiling: room once the first 300 leave',
      { batchShortWindowTokens: 1000 },
      [300, 200],
      501,
      { window: 'short', used: 500, extra: 501, retryAfterSeconds: 3600 },
    ],
    [
      'needs both entries gone',
      { batchShortWindowTokens: 1000 },
      [300, 200],
      900,
      { window: 'short', used: 500, extra: 900, retryAfterSeconds: 7200 },
    ],
    [
      'already reached: says so even for a tiny batch',
      { batchShortWindowTokens: 500 },
      [300, 200],
      1,
      { window: 'short', used: 500, extra: 1, retryAfterSeconds: 3600 },
    ],
    [
      'empty batch at the ceiling',
      { batchShortWindowTokens: 500 },
      [300, 200],
      0,
      { window: 'short', used: 500, extra: 0, retryAfterSeconds: 3600 },
    ],
    [
      'larger than the ceiling: no retry time',
      { batchShortWindowTokens: 1000 },
      [0, 0],
      1001,
      { window: 'short', used: 0, extra: 1001, retryAfterSeconds: null },
    ],
    [
      'long window, once the short one has room',
      { batchShortWindowTokens: 10_000, batchLongWindowTokens: 1000 },
      [300, 200],
      600,
      { window: 'long', used: 500, ceiling: 1000 },
    ],
    ['chat limits do not bound batch', { chatShortWindowTokens: 1 }, [300, 200], 10_000, undefined],
  ] as const)('checks a batch of input tokens against the batch windows: %s', (_what, limits, used, extra, expected) => {
    const w = new KeyTokenWindows(spec);
    w.add('batch', used[0], t0);
    w.add('batch', used[1], t0 + H);
    w.add('chat', 99_999, t0);
    const got = w.exceededWith('batch', limits, extra, t0 + 2 * H);
    if (expected === undefined) expect(got).toBeUndefined();
    else expect(got).toMatchObject({ kind: 'batch', ...expected });
  });

  it('names the limit, the usage, the batch and the ceiling in the refusal', () => {
    const w = new KeyTokenWindows(spec);
    w.add('batch', 9000, t0);
    const e = w.exceededWith('batch', { batchShortWindowTokens: 12_000 }, 5000, t0 + H)!;
    expect(describeWindowWouldExceed(e)).toBe(
      'batch token limit for the 3-hour window (batch_short_window_tokens): this batch has ~5,000 input tokens and 9,000 of 12,000 tokens are used; retry after 7,200 s',
    );
    expect(describeWindowWouldExceed({ ...e, retryAfterSeconds: null })).toMatch(/larger than the limit/);
  });

  it('seeds from ledger totals per quarter, keeping local counts the ledger had not reached', () => {
    const now = t0;
    const instants = ledgerInstants(spec, now);
    expect(instants).toHaveLength(8);
    const w = new KeyTokenWindows(spec);
    w.add('chat', 5, now - 1); // also in the ledger's answer: replaced
    w.add('chat', 7, now + 10); // after `until`: kept
    // short: 100 tokens, all in its last quarter; long: 1,000 tokens, 900 in its first quarter.
    const totals = instants.map((since, i) =>
      i < 4 ? { since, chat: i === 3 ? 100 : 100, batch: 0 } : { since, chat: i === 4 ? 1000 : 100, batch: 3 },
    );
    w.seed(totals, now, now);
    expect(w.used('chat', 'short', now + 20)).toBe(107);
    expect(w.used('chat', 'long', now + 20)).toBe(1007);
    expect(w.used('batch', 'long', now + 20)).toBe(3);
    // The 900 leave the long window by the end of its first quarter from now.
    expect(w.used('chat', 'long', now + spec.longMs / 4 + 1)).toBe(107);
  });

  it('reports in the production shape', () => {
    const w = new KeyTokenWindows(spec);
    w.add('batch', 40, t0);
    expect(usageReport(w, { batchShortWindowTokens: 100 }, 'batch', spec, t0)).toEqual({
      short_window: { window_hours: 3, used_tokens: 40, limit_tokens: 100, remaining_tokens: 60 },
      long_window: { window_days: 7, used_tokens: 40, limit_tokens: null, remaining_tokens: null },
    });
  });

  it.each([
    [3 * H, '3-hour'],
    [7 * 86_400_000, '7-day'],
    [4000, '4-second'],
    [90 * 60_000, '90-minute'],
  ])('names a %d ms window %s', (ms, label) => {
    expect(windowLabel(ms)).toBe(label);
  });

  it("counts every gateway's tokens since the ledger's answer in place of its own, never less than its own", () => {
    const w = new KeyTokenWindows(spec);
    const until = t0 - 10_000;
    // The ledger: 600 tokens finished in the last quarter of the short window before `until`.
    const totals = ledgerInstants(spec, t0).map((since) => ({ since, chat: 600, batch: 0 }));
    w.seed(totals, t0, until);
    expect(w.seededUntil).toBe(until);
    w.add('chat', 100, t0 + 1000);
    const limits = { chatShortWindowTokens: 1000 };
    expect(w.used('chat', 'short', t0 + 2000)).toBe(700);
    // Other gateways finished 250 more since `until`: 600 + 350 of 1000.
    expect(w.exceeded('chat', limits, t0 + 2000, { since: until, tokens: 350 })).toBeUndefined();
    expect(w.exceeded('chat', limits, t0 + 2000, { since: until, tokens: 400 })).toMatchObject({ used: 1000, ceiling: 1000 });
    // A shared count that has not caught up with this gateway's own yet counts its own.
    expect(w.exceeded('chat', { chatShortWindowTokens: 700 }, t0 + 2000, { since: until, tokens: 0 })).toMatchObject({ used: 700 });
  });

  it('leaves a shared count out of a window that no longer covers all of it, so the window still slides', () => {
    const short = { shortMs: 4000, longMs: 86_400_000 };
    const w = new KeyTokenWindows(short);
    const until = t0 - 1000;
    w.seed(
      ledgerInstants(short, t0).map((since) => ({ since, chat: 0, batch: 0 })),
      t0,
      until,
    );
    w.add('chat', 40, t0 + 500);
    const limits = { chatShortWindowTokens: 30 };
    // the 40 tokens every gateway finished since `until`, all inside the 4 s window: refused
    expect(w.exceeded('chat', limits, t0 + 1000, { since: until, tokens: 40 })).toMatchObject({ used: 40 });
    // 5 s later the window starts after `until`: the shared 40 (from before it) no longer count, and it has slid
    expect(w.exceeded('chat', limits, t0 + 5000, { since: until, tokens: 40 })).toBeUndefined();
  });
});
