import * as fs from 'node:fs';

/** Tokens each Mooncake `hash_ids` entry covers. */
export const TRACE_BLOCK_TOKENS = 512;

/** One row of a Mooncake-format trace, with its arrival already compressed. */
export interface TraceRequest {
  readonly id: string;
  /** Seconds from the first arrival, divided by the speed-up. */
  readonly arrivalSeconds: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
  /** Chained 512-token prompt block ids: equal ids mean equal prompts up to that block. */
  readonly blocks: readonly number[];
}

interface TraceRow {
  readonly timestamp: number;
  readonly input_length: number;
  readonly output_length: number;
  readonly hash_ids: readonly number[];
}

function checkRow(row: unknown, where: string): TraceRow {
  const r = row as Partial<TraceRow>;
  const nonNegative = (key: keyof TraceRow) => {
    if (typeof r[key] !== 'number' || !Number.isFinite(r[key]) || (r[key] as number) < 0)
      throw new Error(`${where}: "${key}" must be a non-negative number, got ${JSON.stringify(r[key])}`);
  };
  nonNegative('timestamp');
  nonNegative('input_length');
  nonNegative('output_length');
  if (!Array.isArray(r.hash_ids) || !r.hash_ids.every((h) => Number.isInteger(h)))
    throw new Error(`${where}: "hash_ids" must be an array of integers`);
  if (!Number.isInteger(r.input_length) || (r.input_length as number) < 1)
    throw new Error(`${where}: "input_length" must be a positive integer, got ${r.input_length}`);
  if (!Number.isInteger(r.output_length)) throw new Error(`${where}: "output_length" must be an integer, got ${r.output_length}`);
  return r as TraceRow;
}

/** Reads a JSONL trace (`timestamp` ms, `input_length`, `output_length`, `hash_ids`), sorted by arrival, time divided by `speedup`. */
export function loadTrace(file: string, speedup: number): TraceRequest[] {
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  const rows: TraceRow[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    rows.push(checkRow(JSON.parse(line), `${file}:${i + 1}`));
  });
  if (rows.length === 0) throw new Error(`${file}: no requests`);
  const start = Math.min(...rows.map((r) => r.timestamp));
  return rows
    .map((r, i) => ({
      id: `r${i}`,
      arrivalSeconds: (r.timestamp - start) / 1000 / speedup,
      promptTokens: r.input_length,
      // A prefill-only row has no first token to time; one output token keeps it a chat request.
      outputTokens: Math.max(1, r.output_length),
      blocks: r.hash_ids,
    }))
    .sort((a, b) => a.arrivalSeconds - b.arrivalSeconds);
}
