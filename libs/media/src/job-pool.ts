import { ApiError, JobCancelled } from './api-error';

export type Job<T> = (signal: AbortSignal) => Promise<T>;

export interface JobOptions {
  /** Cancels the job: dropped from the queue, or its signal fires while it runs. */
  readonly signal?: AbortSignal;
  /** The request the job belongs to; slots rotate between owners so one long request cannot starve the rest. */
  readonly owner?: string;
}

/** Requests with a job on a slot, and requests whose jobs are all still queued (vLLM's running/waiting). */
export interface PoolLoad {
  readonly running: number;
  readonly waiting: number;
}

interface Queued {
  readonly start: () => void;
  readonly owner: string;
}

let anonymous = 0;

/**
 * A bounded pool for CPU-bound engine jobs (one child process each): at most `concurrency` run at
 * once, the rest wait in per-owner FIFO queues served round-robin, so a one-hour recording split
 * into 120 chunks shares the slots with a short request that arrives after it.
 */
export class JobPool {
  private active = 0;
  private readonly queues = new Map<string, Queued[]>();
  private readonly runningByOwner = new Map<string, number>();
  private queuedCount = 0;

  constructor(
    readonly concurrency: number,
    /** Jobs allowed to wait; one more is refused with a 503 (Infinity: never). */
    readonly maxWaiting = Infinity,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new Error(`pool concurrency must be a positive integer, got ${concurrency}`);
  }

  get runningJobs(): number {
    return this.active;
  }

  get waitingJobs(): number {
    return this.queuedCount;
  }

  load(): PoolLoad {
    let waiting = 0;
    for (const owner of this.queues.keys()) if (!this.runningByOwner.has(owner)) waiting += 1;
    return { running: this.runningByOwner.size, waiting };
  }

  run<T>(job: Job<T>, options: JobOptions = {}): Promise<T> {
    const { signal } = options;
    const owner = options.owner ?? `job-${(anonymous += 1)}`;
    if (signal?.aborted) return Promise.reject(new JobCancelled(String(signal.reason ?? 'cancelled')));
    if (this.active >= this.concurrency && this.queuedCount >= this.maxWaiting) {
      return Promise.reject(
        new ApiError(
          503,
          `the engine is busy: ${this.active} jobs running and ${this.queuedCount} waiting`,
          'server_error',
          null,
          'engine_overloaded',
        ),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        signal?.removeEventListener('abort', onAbort);
        this.active += 1;
        this.runningByOwner.set(owner, (this.runningByOwner.get(owner) ?? 0) + 1);
        const jobSignal = signal ?? new AbortController().signal;
        let settled: Promise<T>;
        try {
          settled = job(jobSignal);
        } catch (err) {
          settled = Promise.reject(err);
        }
        settled.then(resolve, reject).finally(() => {
          this.active -= 1;
          const left = (this.runningByOwner.get(owner) ?? 1) - 1;
          if (left === 0) this.runningByOwner.delete(owner);
          else this.runningByOwner.set(owner, left);
          this.next();
        });
      };
      const entry: Queued = { start, owner };
      const onAbort = () => {
        const queue = this.queues.get(owner);
        const at = queue ? queue.indexOf(entry) : -1;
        if (queue && at >= 0) {
          queue.splice(at, 1);
          this.queuedCount -= 1;
          if (queue.length === 0) this.queues.delete(owner);
          reject(new JobCancelled(String(signal?.reason ?? 'cancelled')));
        }
      };
      if (this.active < this.concurrency && this.queuedCount === 0) {
        start();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      const queue = this.queues.get(owner);
      if (queue) queue.push(entry);
      else this.queues.set(owner, [entry]);
      this.queuedCount += 1;
    });
  }

  /** Next owner in rotation: Map iteration order is insertion order, so re-inserting moves it last. */
  private next(): void {
    while (this.active < this.concurrency && this.queuedCount > 0) {
      const [owner, queue] = this.queues.entries().next().value as [string, Queued[]];
      const entry = queue.shift() as Queued;
      this.queuedCount -= 1;
      this.queues.delete(owner);
      if (queue.length > 0) this.queues.set(owner, queue);
      entry.start();
    }
  }
}
