import * as fs from 'node:fs';

/** A request-rate series on a regular step: `rates[i]` req/s over [start + i·step, start + (i+1)·step). */
export interface RateSeries {
  readonly file: string;
  readonly startSeconds: number;
  readonly stepSeconds: number;
  /** NaN where the file has no usable value (a gap: no arrivals are drawn there). */
  readonly rates: Float64Array;
}

/** Prompt and output token counts of real requests, sampled uniformly for each arrival. */
export interface TokenMix {
  readonly file: string;
  readonly prompt: Int32Array;
  readonly output: Int32Array;
}

function dataRows(file: string): string[][] {
  return fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => line.split(','));
}

/** `t_seconds,requests_per_second` at any regular step (the smallest gap between rows); missing rows are gaps. */
export function loadRateSeries(file: string): RateSeries {
  const rows = dataRows(file).filter((r) => r[0] !== '' && Number.isFinite(Number(r[0])));
  if (rows.length < 2) throw new Error(`${file}: needs at least 2 rows of t_seconds,requests_per_second`);
  const times = rows.map((r) => Number(r[0]));
  const diffs = times
    .slice(1)
    .map((t, i) => t - times[i])
    .filter((d) => d > 0);
  if (diffs.length === 0) throw new Error(`${file}: t_seconds never increases`);
  const stepSeconds = Math.min(...diffs);
  const startSeconds = times[0];
  const n = Math.round((times[times.length - 1] - startSeconds) / stepSeconds) + 1;
  const rates = new Float64Array(n).fill(Number.NaN);
  for (const r of rows) {
    const offset = (Number(r[0]) - startSeconds) / stepSeconds;
    if (!Number.isInteger(offset)) throw new Error(`${file}: t=${r[0]} is not on the ${stepSeconds} s grid starting at ${startSeconds}`);
    const v = Number(r[1]);
    rates[offset] = Number.isFinite(v) && v >= 0 ? v : Number.NaN;
  }
  return { file, startSeconds, stepSeconds, rates };
}

/** Azure LLM trace: `TIMESTAMP,ContextTokens,GeneratedTokens`. */
export function loadTokenMix(file: string): TokenMix {
  const rows = dataRows(file).filter((r) => Number.isFinite(Number(r[1])) && Number.isFinite(Number(r[2])) && r[1] !== '');
  if (rows.length === 0) throw new Error(`${file}: no rows of TIMESTAMP,ContextTokens,GeneratedTokens`);
  const prompt = new Int32Array(rows.length);
  const output = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    prompt[i] = Math.max(1, Math.round(Number(r[1])));
    output[i] = Math.max(1, Math.round(Number(r[2])));
  });
  return { file, prompt, output };
}
