import type { Endpoint } from '@maas/routing';

/**
 * Slots a worker can give batch work now: only what stays free after keeping `reserveShare` of its
 * capacity for interactive requests, and none while anything waits in its queue. Load is the larger
 * of its last heartbeat and this gateway's own unfinished requests (fresher).
 */
export function spareBatchSlots(e: Pick<Endpoint, 'capacity' | 'running' | 'waiting' | 'outstanding' | 'state'>, reserveShare: number): number {
  if (e.state !== 'ready' || e.waiting > 0) return 0;
  const ceiling = Math.floor(e.capacity * (1 - reserveShare));
  return Math.max(0, ceiling - Math.max(e.running, e.outstanding));
}
