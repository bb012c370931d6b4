import type { Endpoint } from '../endpoint';

type BatchView = Pick<Endpoint, 'capacity' | 'running' | 'waiting' | 'outstanding' | 'state' | 'kvCacheUsage' | 'batchOutstanding'>;

/**
 * Slots a worker can give batch work now: only what stays free after keeping `reserveShare` of its
 * capacity — in request slots AND in KV cache, which long batch prompts exhaust long before the slots —
 * for interactive requests, and none while anything waits in its queue. Load is the larger of its last
 * heartbeat and this gateway's own unfinished requests (fresher). Requests dispatched since the last
 * heartbeat are not in its KV figure yet, so they may at most double what it reported (slow start).
 * `bestConcurrency`, when known, caps the running requests batch work may bring the worker to: past the
 * lowest concurrency that reaches its peak throughput, more sequences only lengthen every step, which
 * interactive requests feel in their first-token time, for little more throughput.
 * `batchLimit`, when given (the adaptive batch controller's limit for the worker), caps the batch
 * requests this gateway has on it.
 */
export function spareBatchSlots(
  e: BatchView,
  reserveShare: number,
  bestConcurrency = Number.POSITIVE_INFINITY,
  batchLimit = Number.POSITIVE_INFINITY,
): number {
  if (e.state !== 'ready' || e.waiting > 0) return 0;
  const maxKv = 1 - reserveShare;
  if (e.kvCacheUsage >= maxKv) return 0;
  const busy = Math.max(e.running, e.outstanding);
  let spare = Math.min(Math.floor(e.capacity * (1 - reserveShare)), bestConcurrency) - busy;
  const unseen = Math.max(0, e.outstanding - e.running);
  if (e.running > 0 && e.kvCacheUsage > 0) {
    const perRequest = e.kvCacheUsage / e.running;
    spare = Math.min(spare, Math.floor((maxKv - e.kvCacheUsage) / perRequest) - unseen, e.running - unseen);
  } else {
    spare = Math.min(spare, 1 - unseen); // nothing known about its KV yet: one at a time
  }
  spare = Math.min(spare, batchLimit - (e.batchOutstanding ?? 0));
  return Math.max(0, spare);
}

/** `GATEWAY_BATCH_CONCURRENCY`: model id → best concurrency of one of its workers; `*` for every other model. */
export type BatchConcurrency = ReadonlyMap<string, number>;

/** The running requests batch work may bring one worker of `model` to; unbounded when not configured. */
export function bestConcurrencyFor(config: BatchConcurrency, model: string): number {
  return config.get(model) ?? config.get('*') ?? Number.POSITIVE_INFINITY;
}

/** Parses `model=N[,model=N…]` (`*=N` for any other model); throws naming the bad entry. */
export function parseBatchConcurrency(raw: string, key: string): BatchConcurrency {
  const out = new Map<string, number>();
  for (const entry of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = entry.lastIndexOf('=');
    const model = entry.slice(0, at).trim();
    const n = Number(entry.slice(at + 1));
    if (at <= 0 || !model || !Number.isInteger(n) || n < 1)
      throw new Error(`${key}: expected MODEL=N with N a positive integer (or *=N), got ${JSON.stringify(entry)}`);
    if (out.has(model)) throw new Error(`${key}: ${JSON.stringify(model)} is given twice`);
    out.set(model, n);
  }
  return out;
}
