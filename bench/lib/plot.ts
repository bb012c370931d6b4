/**
 * A small line chart as a PNG: one x axis, a left and an optional right y axis, polylines, horizontal
 * reference lines and a legend, in a 3×5 pixel font (upper case, digits, a few signs). Enough for a
 * benchmark's time series; nothing more.
 */
import * as fs from 'node:fs';
import { PNG } from 'pngjs';

export type Rgb = readonly [number, number, number];

export interface PlotSeries {
  readonly label: string;
  readonly color: Rgb;
  readonly axis: 'left' | 'right';
  /** NaN y values leave a gap. */
  readonly points: ReadonlyArray<readonly [x: number, y: number]>;
}

export interface PlotLine {
  readonly label: string;
  readonly color: Rgb;
  readonly axis: 'left' | 'right';
  readonly y: number;
}

export interface PlotSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly leftLabel: string;
  readonly rightLabel?: string;
  readonly series: readonly PlotSeries[];
  readonly lines?: readonly PlotLine[];
  /** Vertical markers (e.g. when a step happens), dashed. */
  readonly marks?: readonly number[];
  readonly width?: number;
  readonly height?: number;
}

// 3×5 glyphs, rows top to bottom, 3 bits each (4 = left pixel).
const GLYPHS: Record<string, readonly number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 3, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 2, 2],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  A: [2, 5, 7, 5, 5],
  B: [6, 5, 6, 5, 6],
  C: [3, 4, 4, 4, 3],
  D: [6, 5, 5, 5, 6],
  E: [7, 4, 6, 4, 7],
  F: [7, 4, 6, 4, 4],
  G: [3, 4, 5, 5, 3],
  H: [5, 5, 7, 5, 5],
  I: [7, 2, 2, 2, 7],
  J: [1, 1, 1, 5, 2],
  K: [5, 5, 6, 5, 5],
  L: [4, 4, 4, 4, 7],
  M: [5, 7, 7, 5, 5],
  N: [6, 5, 5, 5, 5],
  O: [2, 5, 5, 5, 2],
  P: [6, 5, 6, 4, 4],
  Q: [2, 5, 5, 6, 3],
  R: [6, 5, 6, 5, 5],
  S: [3, 4, 2, 1, 6],
  T: [7, 2, 2, 2, 2],
  U: [5, 5, 5, 5, 7],
  V: [5, 5, 5, 5, 2],
  W: [5, 5, 7, 7, 5],
  X: [5, 5, 2, 5, 5],
  Y: [5, 5, 2, 2, 2],
  Z: [7, 1, 2, 4, 7],
  '.': [0, 0, 0, 0, 2],
  ',': [0, 0, 0, 2, 4],
  '-': [0, 0, 7, 0, 0],
  '%': [5, 1, 2, 4, 5],
  '/': [1, 1, 2, 4, 4],
  '(': [1, 2, 2, 2, 1],
  ')': [4, 2, 2, 2, 4],
  ':': [0, 2, 0, 2, 0],
  '=': [0, 7, 0, 7, 0],
  '×': [0, 5, 2, 5, 0],
  ' ': [0, 0, 0, 0, 0],
};

const SCALE = 2;
const CHAR_W = 4 * SCALE;

class Canvas {
  readonly png: PNG;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.png = new PNG({ width, height });
    this.png.data.fill(255);
  }

  set(x: number, y: number, [r, g, b]: Rgb): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    const i = (yi * this.width + xi) * 4;
    this.png.data[i] = r;
    this.png.data[i + 1] = g;
    this.png.data[i + 2] = b;
    this.png.data[i + 3] = 255;
  }

  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, dash = 0, thick = 1): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= n; i++) {
      if (dash > 0 && Math.floor(i / dash) % 2 === 1) continue;
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      for (let d = 0; d < thick; d++) this.set(x, y + d, color);
    }
  }

  text(x: number, y: number, text: string, color: Rgb): void {
    [...text.toUpperCase()].forEach((ch, k) => {
      const rows = GLYPHS[ch] ?? GLYPHS[' '];
      rows.forEach((bits, row) => {
        for (let col = 0; col < 3; col++) {
          if (!(bits & (4 >> col))) continue;
          for (let dy = 0; dy < SCALE; dy++)
            for (let dx = 0; dx < SCALE; dx++) this.set(x + k * CHAR_W + col * SCALE + dx, y + row * SCALE + dy, color);
        }
      });
    });
  }
}

/** Round tick step for a span: 1, 2 or 5 × 10^k, about `count` ticks. */
function tickStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
}

const label = (v: number) => (Math.abs(v) >= 10 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1));

/** Renders the chart; returns the PNG bytes. */
export function renderLinePlot(spec: PlotSpec): Buffer {
  const width = spec.width ?? 900;
  const height = spec.height ?? 420;
  const c = new Canvas(width, height);
  const black: Rgb = [0, 0, 0];
  const grey: Rgb = [200, 200, 200];
  const left = 70;
  const right = spec.rightLabel ? width - 70 : width - 20;
  const top = 40;
  const bottom = height - 70;
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs, xMin + 1);
  const range = (axis: 'left' | 'right') => {
    const ys = [
      ...spec.series.filter((s) => s.axis === axis).flatMap((s) => s.points.map((p) => p[1])),
      ...(spec.lines ?? []).filter((l) => l.axis === axis).map((l) => l.y),
    ].filter(Number.isFinite);
    const max = Math.max(1, ...ys);
    const step = tickStep(max, 5);
    return { max: Math.ceil((max * 1.05) / step) * step, step };
  };
  const axes = { left: range('left'), right: range('right') };
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin)) * (right - left);
  const py = (y: number, axis: 'left' | 'right') => bottom - (y / axes[axis].max) * (bottom - top);

  // Grid and ticks.
  for (let y = 0; y <= axes.left.max + 1e-9; y += axes.left.step) {
    c.line(left, py(y, 'left'), right, py(y, 'left'), grey);
    const t = label(y);
    c.text(left - 6 - t.length * CHAR_W, py(y, 'left') - 5, t, black);
  }
  if (spec.rightLabel)
    for (let y = 0; y <= axes.right.max + 1e-9; y += axes.right.step) {
      c.line(right, py(y, 'right'), right + 4, py(y, 'right'), black);
      c.text(right + 8, py(y, 'right') - 5, label(y), black);
    }
  const xStep = tickStep(xMax - xMin, 10);
  for (let x = Math.ceil(xMin / xStep) * xStep; x <= xMax + 1e-9; x += xStep) {
    c.line(px(x), bottom, px(x), bottom + 4, black);
    const t = label(x);
    c.text(px(x) - (t.length * CHAR_W) / 2, bottom + 8, t, black);
  }
  c.line(left, top, left, bottom, black);
  c.line(left, bottom, right, bottom, black);
  if (spec.rightLabel) c.line(right, top, right, bottom, black);
  for (const m of spec.marks ?? []) c.line(px(m), top, px(m), bottom, [120, 120, 120], 4);

  for (const l of spec.lines ?? []) c.line(left, py(l.y, l.axis), right, py(l.y, l.axis), l.color, 6, 2);
  for (const s of spec.series) {
    let prev: readonly [number, number] | undefined;
    for (const p of s.points) {
      if (!Number.isFinite(p[1])) {
        prev = undefined;
        continue;
      }
      const cur = [px(p[0]), py(Math.min(p[1], axes[s.axis].max), s.axis)] as const;
      if (prev) c.line(prev[0], prev[1], cur[0], cur[1], s.color, 0, 2);
      prev = cur;
    }
  }

  // Labels and legend.
  c.text(left, 12, spec.title, black);
  c.text((left + right) / 2 - (spec.xLabel.length * CHAR_W) / 2, bottom + 24, spec.xLabel, black);
  c.text(8, top - 20, spec.leftLabel, black);
  if (spec.rightLabel) c.text(width - 8 - spec.rightLabel.length * CHAR_W, top - 20, spec.rightLabel, black);
  let lx = left;
  for (const item of [...spec.series.map((s) => ({ ...s, dashed: false })), ...(spec.lines ?? []).map((l) => ({ ...l, dashed: true }))]) {
    c.line(lx, height - 18, lx + 20, height - 18, item.color, item.dashed ? 6 : 0, 2);
    c.text(lx + 26, height - 22, item.label, black);
    lx += 40 + item.label.length * CHAR_W;
  }
  return PNG.sync.write(c.png);
}

/** Writes the chart to `file`. */
export function writeLinePlot(file: string, spec: PlotSpec): void {
  fs.writeFileSync(file, renderLinePlot(spec));
}
