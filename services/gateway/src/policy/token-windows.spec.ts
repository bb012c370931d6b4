import { describeWindowExceeded, KeyTokenWindows, ledgerInstants, usageReport, windowLabel } from './token-windows';

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
    expect(describeWindowExceeded(e)).toBe('chat token limit for the 3-hour window reached: 120,345 of 120,000 tokens used; retry after 3,600 s');
    expect(w.exceeded('chat', { chatShortWindowTokens: 120_000 }, t0 + 3 * H)).toBeUndefined();
    expect(w.used('chat', 'long', t0 + 3 * H)).toBe(120_345);
    expect(w.exceeded('batch', { chatShortWindowTokens: 1 }, t0 + H)).toBeUndefined();
  });

  it('seeds from ledger totals per quarter, keeping local counts the ledger had not reached', () => {
    const now = t0;
    const instants = ledgerInstants(spec, now);
    expect(instants).toHaveLength(8);
    const w = new KeyTokenWindows(spec);
    w.add('chat', 5, now - 1); // also in the ledger's answer: replaced
    w.add('chat', 7, now + 10); // after `until`: kept
    // short: 100 tokens, all in its last quarter; long: 1,000 tokens, 900 in its first quarter.
    const totals = instants.map((since, i) => (i < 4 ? { since, chat: i === 3 ? 100 : 100, batch: 0 } : { since, chat: i === 4 ? 1000 : 100, batch: 3 }));
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

  it.each([[3 * H, '3-hour'], [7 * 86_400_000, '7-day'], [4000, '4-second'], [90 * 60_000, '90-minute']])('names a %d ms window %s', (ms, label) => {
    expect(windowLabel(ms)).toBe(label);
  });
});
