import type { BatchLaneSpec } from '@maas/routing';
import type { InteractiveSample, WorkerLoad } from '../../services/gateway/src/policy/batch-controller';
import { BatchController, BatchControllerOptions, pacedLimits } from '../../services/gateway/src/policy/batch-controller';

export type { InteractiveSample, WorkerLoad };

/**
 * How batch work is admitted in the simulated day:
 * - 'gateway': as the gateway's routing does (`batchSlots` of @maas/routing: GATEWAY_BATCH_RESERVE of slots and
 *   KV kept free, nothing while a worker queues; under static control lanes formed from the interactive requests
 *   in flight, GATEWAY_INTERACTIVE_LANE at least, GATEWAY_BATCH_CONCURRENCY as a cap on a worker's running
 *   requests; under adaptive control the lane GATEWAY_INTERACTIVE_LANE exactly and the controller's paced limit
 *   on its batch requests), interactive requests kept clear of batch workers with room;
 * - 'limits': the policy's number alone, batch requests in flight per worker (the controller's limit, or a
 *   hand-set cap with `lane` workers taking none), interactive requests to the least-outstanding worker.
 */
export type Admission = 'gateway' | 'limits';

export interface BatchPolicy {
  readonly name: string;
  /** Undefined: no batch work at all. */
  readonly admission?: Admission;
  /** 'gateway' admission: the lane spec (the controller's limits are added to it). */
  readonly lanes?: Omit<BatchLaneSpec, 'batchLimit'>;
  /** 'limits' admission under static control: batch requests worker i may have. */
  readonly cap?: (worker: number) => number;
  /** Adaptive control: what happened since the last call; returns the batch requests each worker may have now. */
  update?(nowMs: number, samples: readonly InteractiveSample[], workers: readonly WorkerLoad[]): ReadonlyMap<string, number>;
  /** GATEWAY_BATCH_SHED under adaptive control: batch requests over a worker's limit are shed at each update. */
  readonly shed?: boolean;
}

/**
 * A hand-set setting: at least `lane` workers kept free of batch work and `cap`, which under 'gateway'
 * admission is GATEWAY_BATCH_CONCURRENCY (running requests, interactive ones included, batch work may
 * bring a worker to) and under 'limits' the batch requests per worker.
 */
export interface StaticSetting {
  readonly cap: number;
  readonly lane: number;
}

export const settingName = (s: StaticSetting) => `cap ${s.cap}, lane ${s.lane}`;

/** No batch work anywhere. */
export function noBatch(): BatchPolicy {
  return { name: 'no batch' };
}

/** GATEWAY_BATCH_CONTROL=static: the caps, the reserve and the lanes alone. */
export function staticCaps(admission: Admission, model: string, setting: StaticSetting, reserve: number): BatchPolicy {
  const name = settingName(setting);
  if (admission === 'limits') return { name, admission, cap: (i) => (i < setting.lane ? 0 : setting.cap) };
  return { name, admission, lanes: { minInteractive: setting.lane, reserve, concurrency: new Map([[model, setting.cap]]) } };
}

/**
 * GATEWAY_BATCH_CONTROL=adaptive as the gateway runs it (BatchControlService): no interactive-only lane by
 * default; the controller's ceiling is GATEWAY_BATCH_CONCURRENCY (`cap`, Infinity: unset), else the
 * worker's slots (its only role under adaptive control), and under 'gateway' admission the reserve still applies.
 */
export function adaptive(
  admission: Admission,
  model: string,
  options: Omit<BatchControllerOptions, 'ceiling'> & { readonly ceiling?: number },
  cap: number,
  reserve: number,
  capacity: number,
  shed = false,
): BatchPolicy & { readonly controller: BatchController } {
  const controller = new BatchController({ ...options, ceiling: options.ceiling ?? (Number.isFinite(cap) ? cap : capacity) });
  const concurrency = Number.isFinite(cap) ? new Map([[model, cap]]) : new Map<string, number>();
  return {
    name: 'adaptive',
    admission,
    controller,
    shed,
    ...(admission === 'gateway' ? { lanes: { minInteractive: 0, reserve, concurrency } } : {}),
    // as BatchControlService hands the limits to routing: paced, one more batch request per worker per update
    update: (nowMs, samples, workers) => pacedLimits(controller.update(nowMs, samples, workers), workers),
  };
}
