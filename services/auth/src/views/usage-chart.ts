import type { UsageDay } from '../policy/usage-series';
import { escapeHtml, formatNumber, Html } from './html';

const WIDTH = 720;
const HEIGHT = 240;
const PAD = { top: 16, right: 12, bottom: 36, left: 64 };

/** Y-axis gridlines at a round step (1, 2 or 5 times a power of ten), at most five above zero. */
export function niceTicks(max: number): number[] {
  if (max <= 0) return [0, 5, 10];
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough)!;
  const ticks: number[] = [];
  for (let v = 0; v < max + step; v += step) ticks.push(v);
  return ticks;
}

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });

/** Daily tokens as stacked bars (prompt below, completion above), inline SVG with a text alternative. */
export function usageChart(days: UsageDay[], timeZone: string): Html {
  const totals = days.map((d) => d.promptTokens + d.completionTokens);
  const sum = totals.reduce((a, b) => a + b, 0);
  const ticks = niceTicks(Math.max(...totals, 0));
  const top = ticks[ticks.length - 1];
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(days.length, 1);
  const barW = Math.max(2, slot * 0.7);
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;

  const grid = ticks
    .map((v) => {
      const gy = y(v).toFixed(1);
      return `<line class="grid" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${gy}" y2="${gy}"/><text class="axis" x="${PAD.left - 8}" y="${gy}" text-anchor="end" dominant-baseline="middle">${compact.format(v)}</text>`;
    })
    .join('');

  const labelEvery = Math.ceil(days.length / 8);
  const bars = days
    .map((d, i) => {
      const x = PAD.left + i * slot + (slot - barW) / 2;
      const promptTop = y(d.promptTokens);
      const totalTop = y(d.promptTokens + d.completionTokens);
      const label = `${d.day}: ${formatNumber(d.promptTokens)} prompt and ${formatNumber(d.completionTokens)} completion tokens in ${formatNumber(d.requests)} requests`;
      // Counted from the end, so the latest day always has its label and none collide.
      const tick =
        (days.length - 1 - i) % labelEvery === 0
          ? `<text class="axis" x="${(x + barW / 2).toFixed(1)}" y="${HEIGHT - PAD.bottom + 18}" text-anchor="middle">${d.day.slice(5)}</text>`
          : '';
      return (
        `<g><title>${escapeHtml(label)}</title>` +
        `<rect class="prompt" x="${x.toFixed(1)}" y="${promptTop.toFixed(1)}" width="${barW.toFixed(1)}" height="${(PAD.top + plotH - promptTop).toFixed(1)}"/>` +
        `<rect class="completion" x="${x.toFixed(1)}" y="${totalTop.toFixed(1)}" width="${barW.toFixed(1)}" height="${(promptTop - totalTop).toFixed(1)}"/>` +
        `</g>${tick}`
      );
    })
    .join('');

  const first = days[0]?.day ?? '';
  const last = days[days.length - 1]?.day ?? '';
  const busiest = days.reduce<UsageDay | undefined>(
    (b, d) => (!b || d.promptTokens + d.completionTokens > b.promptTokens + b.completionTokens ? d : b),
    undefined,
  );
  const description =
    sum === 0
      ? `No tokens used between ${first} and ${last}.`
      : `${formatNumber(sum)} tokens between ${first} and ${last}; busiest day ${busiest!.day} with ${formatNumber(busiest!.promptTokens + busiest!.completionTokens)} tokens.`;

  return new Html(
    `<figure class="chart">` +
      `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="usage-title usage-desc" preserveAspectRatio="xMidYMid meet">` +
      `<title id="usage-title">Tokens per day (${escapeHtml(timeZone)})</title><desc id="usage-desc">${escapeHtml(description)}</desc>` +
      grid +
      bars +
      `<line class="baseline" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}"/>` +
      `</svg>` +
      `<figcaption><span class="swatch prompt" aria-hidden="true"></span> prompt tokens <span class="swatch completion" aria-hidden="true"></span> completion tokens · ${escapeHtml(description)}</figcaption>` +
      `</figure>`,
  );
}
