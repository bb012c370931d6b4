import { StreamResult } from './openai-stream';
import { summarize, Summary } from './stats';

/** Service-level objectives a request must meet to count towards goodput (seconds). */
export interface Slo {
  readonly ttftSeconds: number;
  readonly tpotSeconds: number;
}

/** vLLM bench's serving metrics over a set of streamed requests. */
export interface ServingMetrics {
  readonly completed: number;
  readonly failed: number;
  readonly durationSeconds: number;
  readonly requestsPerSecond: number;
  readonly outputTokensPerSecond: number;
  /** Prompt + output tokens per second (how the mdx MaaS paper counts throughput). */
  readonly totalTokensPerSecond: number;
  readonly goodputRequestsPerSecond: number;
  readonly ttft: Summary;
  readonly tpot: Summary;
  readonly itl: Summary;
  readonly e2e: Summary;
}

/**
 * `secondsPerMs` converts the client's wall-clock milliseconds into the reported unit (1/1000 for
 * seconds; timeScale/1000 when the server runs a faster simulated clock).
 */
export function servingMetrics(results: readonly StreamResult[], slo: Slo, secondsPerMs = 0.001): ServingMetrics {
  const ok = results.filter((r) => r.ok && r.chunkMs.length > 0);
  const ttft: number[] = [];
  const tpot: number[] = [];
  const itl: number[] = [];
  const e2e: number[] = [];
  let good = 0;
  let outputTokens = 0;
  let totalTokens = 0;
  for (const r of ok) {
    const first = (r.chunkMs[0] - r.startMs) * secondsPerMs;
    const total = (r.endMs - r.startMs) * secondsPerMs;
    const out = r.completionTokens ?? r.chunkMs.length;
    ttft.push(first);
    e2e.push(total);
    const perToken = out > 1 ? (total - first) / (out - 1) : 0;
    if (out > 1) tpot.push(perToken);
    for (let i = 1; i < r.chunkMs.length; i += 1) itl.push((r.chunkMs[i] - r.chunkMs[i - 1]) * secondsPerMs);
    if (first <= slo.ttftSeconds && perToken <= slo.tpotSeconds) good += 1;
    outputTokens += out;
    totalTokens += out + (r.promptTokens ?? 0);
  }
  const start = Math.min(...results.map((r) => r.startMs));
  const end = Math.max(...results.map((r) => r.endMs));
  const duration = results.length > 0 ? (end - start) * secondsPerMs : Number.NaN;
  return {
    completed: ok.length,
    failed: results.length - ok.length,
    durationSeconds: duration,
    requestsPerSecond: ok.length / duration,
    outputTokensPerSecond: outputTokens / duration,
    totalTokensPerSecond: totalTokens / duration,
    goodputRequestsPerSecond: good / duration,
    ttft: summarize(ttft),
    tpot: summarize(tpot),
    itl: summarize(itl),
    e2e: summarize(e2e),
  };
}
