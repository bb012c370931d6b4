import type { Endpoint } from '@maas/routing';

type BatchView = Pick<Endpoint, 'capacity' | 'running' | 'waiting' | 'outstanding' | 'state' | 'kvCacheUsage'>;

/**
 * Slots a worker can give batch work now: only what stays free after keeping `reserveShare` of its
 * capacity — in request slots AND in KV cache, which long batch prompts exhaust long before the slots —
 * for interactive requests, and none while anything waits in its queue. Load is the larger of its last
 * heartbeat and this gateway's own unfinished requests (fresher). Requests dispatched since the last
 * heartbeat are not in its KV figure yet, so they may at most double what it reported (slow start).
 */
export function spareBatchSlots(e: BatchView, reserveShare: number): number {
  if (e.state !== 'ready' || e.waiting > 0) return 0;
  const maxKv = 1 - reserveShare;
  if (e.kvCacheUsage >= maxKv) return 0;
  const busy = Math.max(e.running, e.outstanding);
  let spare = Math.floor(e.capacity * (1 - reserveShare)) - busy;
  const unseen = Math.max(0, e.outstanding - e.running);
  if (e.running > 0 && e.kvCacheUsage > 0) {
    const perRequest = e.kvCacheUsage / e.running;
    spare = Math.min(spare, Math.floor((maxKv - e.kvCacheUsage) / perRequest) - unseen, e.running - unseen);
  } else {
    spare = Math.min(spare, 1 - unseen); // nothing known about its KV yet: one at a time
  }
  return Math.max(0, spare);
}
