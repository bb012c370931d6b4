export type JobStatus = 'queued' | 'decoding' | 'transcribing' | 'completed' | 'failed' | 'cancelled';

/** What `GET /v1/audio/transcriptions/progress` shows of one job. */
export interface JobProgress {
  readonly id: string;
  readonly object: 'transcription.progress';
  readonly model: string;
  readonly status: JobStatus;
  /** Audio length, once decoded. */
  readonly duration_seconds: number | null;
  readonly chunks_total: number | null;
  readonly chunks_done: number;
  /** 0–100: decoding counts as the first 5 %. */
  readonly percent: number;
  readonly started_at: number;
  readonly elapsed_seconds: number;
}

interface Entry {
  id: string;
  model: string;
  status: JobStatus;
  duration: number | null;
  total: number | null;
  done: number;
  startedMs: number;
  endedMs?: number;
}

/** Jobs in flight plus the most recent finished ones, for progress polling. */
export class ProgressBoard {
  private readonly jobs = new Map<string, Entry>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly keepFinished = 100,
  ) {}

  start(id: string, model: string): void {
    this.jobs.delete(id);
    this.jobs.set(id, { id, model, status: 'queued', duration: null, total: null, done: 0, startedMs: this.now() });
  }

  decoding(id: string): void {
    this.update(id, (e) => (e.status = 'decoding'));
  }

  planned(id: string, durationSeconds: number, chunks: number): void {
    this.update(id, (e) => {
      e.status = 'transcribing';
      e.duration = durationSeconds;
      e.total = chunks;
    });
  }

  /** One more chunk recognised; returns the job's progress. */
  chunkDone(id: string): JobProgress | undefined {
    this.update(id, (e) => (e.done += 1));
    return this.get(id);
  }

  finish(id: string, status: 'completed' | 'failed' | 'cancelled'): void {
    this.update(id, (e) => {
      e.status = status;
      e.endedMs = this.now();
    });
    const finished = [...this.jobs.values()].filter((e) => e.endedMs !== undefined);
    for (const old of finished.slice(0, Math.max(0, finished.length - this.keepFinished))) this.jobs.delete(old.id);
  }

  get(id: string): JobProgress | undefined {
    const e = this.jobs.get(id);
    return e ? this.view(e) : undefined;
  }

  list(): JobProgress[] {
    return [...this.jobs.values()].map((e) => this.view(e));
  }

  private update(id: string, change: (e: Entry) => void): void {
    const e = this.jobs.get(id);
    if (e) change(e);
  }

  private view(e: Entry): JobProgress {
    const percent = e.status === 'completed' ? 100 : e.total ? 5 + (95 * e.done) / e.total : 0;
    return {
      id: e.id,
      object: 'transcription.progress',
      model: e.model,
      status: e.status,
      duration_seconds: e.duration,
      chunks_total: e.total,
      chunks_done: e.done,
      percent: Math.round(percent * 10) / 10,
      started_at: Math.floor(e.startedMs / 1000),
      elapsed_seconds: Math.round(((e.endedMs ?? this.now()) - e.startedMs) / 100) / 10,
    };
  }
}
