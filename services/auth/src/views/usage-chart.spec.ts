import { usageChart, niceTicks } from './usage-chart';

describe('niceTicks (usage chart axis)', () => {
  it.each([
    [3520, [0, 1000, 2000, 3000, 4000]],
    [45, [0, 20, 40, 60]],
    [0, [0, 5, 10]],
    [1_000_000, [0, 500_000, 1_000_000]],
  ])('%i → %j', (max, ticks) => {
    expect(niceTicks(max)).toEqual(ticks);
  });
});

describe('usageChart', () => {
  const day = (d: string, p: number, c: number) => ({ day: d, requests: 1, promptTokens: p, completionTokens: c, batchTokens: 0 });
  it('describes the data in text for screen readers, and escapes what it prints', () => {
    const svg = usageChart([day('2026-04-01', 0, 0), day('2026-04-02', 1200, 345)], 'Asia/Tokyo').value;
    expect(svg).toContain('role="img"');
    expect(svg).toContain('1,545 tokens between 2026-04-01 and 2026-04-02; busiest day 2026-04-02 with 1,545 tokens.');
    expect(svg).toContain('<title>2026-04-02: 1,200 prompt and 345 completion tokens in 1 requests</title>');
    expect(usageChart([day('2026-04-01', 0, 0)], '<script>').value).not.toContain('<script>');
  });
});
