/** Daily token usage as a gap-free series for the chart: one point per day, zero where nothing was used. */

export interface UsageRow {
  day: string;
  kind: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

export interface UsageDay {
  day: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  batchTokens: number;
}

const DAY_MS = 86_400_000;

/** Calendar day (YYYY-MM-DD) of an instant in a time zone. */
export function dayIn(timeZone: string, at: number): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

export function dailySeries(rows: UsageRow[], now: number, days: number, timeZone: string): UsageDay[] {
  const byDay = new Map<string, UsageDay>();
  for (let i = days - 1; i >= 0; i--) {
    const day = dayIn(timeZone, now - i * DAY_MS);
    byDay.set(day, { day, requests: 0, promptTokens: 0, completionTokens: 0, batchTokens: 0 });
  }
  for (const r of rows) {
    const d = byDay.get(r.day);
    if (!d) continue;
    d.requests += r.requests;
    d.promptTokens += r.promptTokens;
    d.completionTokens += r.completionTokens;
    if (r.kind === 'batch') d.batchTokens += r.promptTokens + r.completionTokens;
  }
  return [...byDay.values()];
}
