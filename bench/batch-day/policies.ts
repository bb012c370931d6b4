/** What decides each worker's batch concurrency in the simulated day, fed as the gateway feeds it. */
export interface WorkerLoad {
  readonly workerId: string;
  readonly running: number;
  readonly waiting: number;
  readonly batchInFlight: number;
  readonly kvUsage?: number;
  readonly stepMs?: number;
  /** Request slots of the worker. */
  readonly capacity?: number;
}

export interface InteractiveSample {
  readonly atMs: number;
  readonly workerId?: string;
  readonly ttftMs: number;
  readonly tpotMs?: number;
}

export interface BatchPolicy {
  readonly name: string;
  /** What happened since the last call; returns the batch requests each worker may have in flight now. */
  update(nowMs: number, samples: readonly InteractiveSample[], workers: readonly WorkerLoad[]): ReadonlyMap<string, number>;
}

/** A hand-set setting: `lane` workers kept free of batch work, the others capped at `cap` batch requests each. */
export interface StaticSetting {
  readonly cap: number;
  readonly lane: number;
}

export const settingName = (s: StaticSetting) => `cap ${s.cap}, lane ${s.lane}`;

/** No batch work anywhere. */
export function noBatch(): BatchPolicy {
  return { name: 'no batch', update: (_now, _samples, workers) => new Map(workers.map((w) => [w.workerId, 0])) };
}

/** GATEWAY_BATCH_CONCURRENCY and GATEWAY_INTERACTIVE_LANE as constants: the first `lane` workers never take batch work. */
export function staticCaps(setting: StaticSetting): BatchPolicy {
  return {
    name: settingName(setting),
    update: (_now, _samples, workers) => new Map(workers.map((w, i) => [w.workerId, i < setting.lane ? 0 : setting.cap])),
  };
}

/** A different static setting per bucket (the hourly oracle replayed, or any schedule of caps). */
export function scheduledCaps(bucketMs: number, settings: readonly StaticSetting[]): BatchPolicy {
  return {
    name: 'scheduled caps',
    update: (nowMs, samples, workers) => {
      const s = settings[Math.min(settings.length - 1, Math.floor(nowMs / bucketMs))];
      return staticCaps(s).update(nowMs, samples, workers);
    },
  };
}
