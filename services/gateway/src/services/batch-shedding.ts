/**
 * Batch requests to shed from a worker: the adaptive batch control asks when a worker runs more of this
 * gateway's batch requests than its limit (a cut acts now, not as long generations finish), the batch
 * executor aborts its youngest there (the least work lost, likely still in prefill, the part interactive
 * first tokens feel most) and requeues them. A listener returns how many it shed.
 */
export type BatchShedder = (workerId: string, count: number) => number;

const shedders = new Set<BatchShedder>();

/** Registers a shedder; returns its removal. */
export function onBatchShed(shedder: BatchShedder): () => void {
  shedders.add(shedder);
  return () => shedders.delete(shedder);
}

/** Asks the shedders for `count` batch requests off the worker; returns how many they shed. */
export function shedBatch(workerId: string, count: number): number {
  let shed = 0;
  for (const shedder of shedders) if (shed < count) shed += shedder(workerId, count - shed);
  return shed;
}

/** Per worker, the batch requests over its limit (none listed when within it). */
export function overLimit(
  limits: ReadonlyMap<string, number>,
  workers: readonly { readonly workerId: string; readonly batchInFlight: number }[],
): Map<string, number> {
  const out = new Map<string, number>();
  for (const w of workers) {
    const limit = limits.get(w.workerId);
    if (limit !== undefined && w.batchInFlight > limit) out.set(w.workerId, w.batchInFlight - limit);
  }
  return out;
}
