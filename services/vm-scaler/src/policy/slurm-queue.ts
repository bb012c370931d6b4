import type { VmState } from '@maas/scaling';

/** A job of ours as `squeue --json` shows it. */
export interface SlurmJob {
  readonly jobId: string;
  readonly name: string;
  /** PENDING, CONFIGURING, RUNNING, COMPLETING, SUSPENDED, … */
  readonly state: string;
  readonly comment: string;
  /** Seconds; 0 when unknown. */
  readonly submitTime: number;
  readonly startTime: number;
  readonly reason: string;
}

/** What a node is tagged with in the job's comment so a restarted scaler can adopt its jobs. */
export interface JobTag {
  readonly namespace: string;
  readonly vmType: string;
  readonly model: string;
  /** 'batch': a batch-pool node (absent on interactive ones, and on jobs queued before pools). */
  readonly pool?: 'batch';
}

const TAG = 'maas-scaler';

export function jobComment(tag: JobTag): string {
  return `${TAG} ${JSON.stringify(tag)}`;
}

export function parseJobComment(comment: string): JobTag | undefined {
  if (!comment.startsWith(`${TAG} `)) return undefined;
  try {
    const tag = JSON.parse(comment.slice(TAG.length + 1)) as Partial<JobTag>;
    return typeof tag.namespace === 'string' && typeof tag.vmType === 'string' && typeof tag.model === 'string'
      ? (tag as JobTag)
      : undefined;
  } catch {
    return undefined;
  }
}

const text = (v: unknown): string =>
  typeof v === 'string' ? v : Array.isArray(v) ? v.map(String).join(',') : v === undefined || v === null ? '' : String(v);
/** 22.05 prints plain numbers; 23.02+ prints `{ set, infinite, number }`. */
const seconds = (v: unknown): number => {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'number' in v) return Number((v as { number: unknown }).number) || 0;
  return 0;
};

/** The jobs of `squeue --json`; throws with the start of the text when it is not squeue's JSON. */
export function parseSqueueJson(output: string): SlurmJob[] {
  let parsed: { jobs?: unknown[] };
  try {
    parsed = JSON.parse(output) as { jobs?: unknown[] };
  } catch {
    throw new Error(`squeue --json printed something else: ${output.slice(0, 120)}`);
  }
  if (!Array.isArray(parsed.jobs)) throw new Error('squeue --json printed no "jobs" list');
  return parsed.jobs.map((raw) => {
    const j = raw as Record<string, unknown>;
    return {
      jobId: text(j.job_id),
      name: text(j.name),
      state: text(j.job_state).toUpperCase(),
      comment: text(j.comment),
      submitTime: seconds(j.submit_time),
      startTime: seconds(j.start_time),
      reason: text(j.state_reason),
    };
  });
}

/**
 * A job's state as a node's: queued is requested, running before its worker registers is booting
 * (the caller promotes it to ready), finishing is stopping. Undefined: the job has ended.
 */
export function jobNodeState(state: string): VmState | undefined {
  if (/PENDING|CONFIGURING|REQUEUE|RESV_DEL_HOLD|SUSPENDED|STAGE_OUT/.test(state) && !/RUNNING/.test(state)) return 'requested';
  if (/COMPLETING/.test(state)) return 'stopping';
  if (/RUNNING/.test(state)) return 'booting';
  return undefined;
}
