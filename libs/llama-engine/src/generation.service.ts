import { JobCancelled, JobPool } from '@maas/media';
import { GenerationSlot, LlamaRuntime } from './llama-runtime';
import { SamplingParams } from './openai-requests';
import { FinishReason } from './openai-responses';
import { pickSlot } from './slot-choice';
import { StopMatcher } from './stop-matcher';
import { TextStream } from './text-stream';

export interface GenerationJob {
  readonly prompt: readonly number[];
  /** Tokens to sample at most; the caller has checked that prompt plus these fit the context. */
  readonly maxTokens: number;
  readonly sampling: SamplingParams;
  /** Texts that end the answer (not included in it). */
  readonly stopTexts: readonly string[];
  /** Tokens that end the answer besides end-of-generation ones (a chat template's end of turn). */
  readonly stopTokens: readonly number[];
  readonly ignoreEos: boolean;
  /** Called when a slot starts on the job (headers can go out). */
  readonly onStart?: () => void;
  /** Each piece of answer text as it becomes safe to send. */
  readonly onText?: (text: string) => void;
}

export interface GenerationOutcome {
  readonly text: string;
  readonly finishReason: FinishReason;
  readonly promptTokens: number;
  /** Tokens sampled, the one that ended the answer included (as vLLM and llama-server count). */
  readonly completionTokens: number;
  /** Prompt tokens whose KV entries were reused from the slot's previous request. */
  readonly cachedTokens: number;
  /** Seconds from admission to the first sampled token. */
  readonly firstTokenSeconds: number;
  readonly slot: number;
}

/** Told about each generation as it happens, so counters move while a long answer streams. */
export interface GenerationObserver {
  started(promptTokens: number, cachedTokens: number): void;
  /** One sampled token; the first of a request carries its time to first token. */
  sampled(firstTokenSeconds?: number): void;
}

/**
 * Runs generations on a bounded set of context sequences (slots): at most one request per slot,
 * the rest wait in the pool's queue. A request whose signal fires is dropped from the queue or
 * stopped at its next token, freeing its slot.
 */
export class GenerationService {
  private readonly free: GenerationSlot[];
  private readonly busy = new Map<number, number>();
  private readonly lastUsed = new Map<number, number>();
  private uses = 0;

  constructor(
    private readonly runtime: LlamaRuntime,
    readonly pool: JobPool,
    private readonly observer?: GenerationObserver,
    private readonly clock: () => number = () => performance.now() / 1000,
  ) {
    if (pool.concurrency > runtime.slots.length)
      throw new Error(`pool runs ${pool.concurrency} jobs at once but the context has ${runtime.slots.length} sequences`);
    this.free = [...runtime.slots];
  }

  /** Tokens held by the KV caches of slots serving a request, over all slots' capacity (vLLM's KV usage). */
  kvCacheUsage(): number {
    let used = 0;
    for (const tokens of this.busy.values()) used += tokens;
    return used / (this.runtime.contextSize * this.runtime.slots.length);
  }

  run(job: GenerationJob, options: { owner?: string; signal?: AbortSignal } = {}): Promise<GenerationOutcome> {
    return this.pool.run((signal) => this.onSlot(job, signal), options);
  }

  private async onSlot(job: GenerationJob, signal: AbortSignal): Promise<GenerationOutcome> {
    const choice = pickSlot(
      this.free.map((s) => ({ index: s.index, cached: s.cachedTokens(), lastUsed: this.lastUsed.get(s.index) ?? 0 })),
      job.prompt,
    );
    if (!choice) throw new Error('no free slot although the pool admitted a job');
    const at = this.free.findIndex((s) => s.index === choice.index);
    const [slot] = this.free.splice(at, 1);
    this.busy.set(slot.index, job.prompt.length);
    this.lastUsed.set(slot.index, (this.uses += 1));
    try {
      return await this.generate(slot, choice.reuse, job, signal);
    } finally {
      this.busy.delete(slot.index);
      this.free.push(slot);
    }
  }

  private async generate(slot: GenerationSlot, reuse: number, job: GenerationJob, signal: AbortSignal): Promise<GenerationOutcome> {
    const started = this.clock();
    job.onStart?.();
    const text = new TextStream((tokens, last) => this.runtime.detokenize(tokens, last), job.prompt);
    const stops = new StopMatcher(job.stopTexts);
    const stopTokens = new Set(job.stopTokens);
    let answer = '';
    const emit = (piece: string) => {
      if (piece.length === 0) return;
      answer += piece;
      job.onText?.(piece);
    };
    let sampled = 0;
    let firstTokenAt = started;
    let finishReason: FinishReason = 'length';
    if (signal.aborted) throw new JobCancelled(String(signal.reason ?? 'cancelled'));
    this.observer?.started(job.prompt.length, reuse);
    for await (const token of slot.generate(job.prompt, reuse, job.sampling)) {
      // Leaving the loop returns the iterator, which stops llama.cpp's evaluation of this sequence.
      if (signal.aborted) throw new JobCancelled(String(signal.reason ?? 'cancelled'));
      sampled += 1;
      if (sampled === 1) firstTokenAt = this.clock();
      this.observer?.sampled(sampled === 1 ? firstTokenAt - started : undefined);
      this.busy.set(slot.index, job.prompt.length + sampled);
      const ends = this.runtime.isEndOfGeneration(token) || stopTokens.has(token);
      if (ends && !job.ignoreEos) {
        finishReason = 'stop';
        break;
      }
      if (!ends) emit(stops.push(text.push(token)));
      if (stops.stopped) {
        finishReason = 'stop';
        break;
      }
      if (sampled >= job.maxTokens) break;
    }
    if (!stops.stopped) {
      emit(stops.push(text.flush()) + stops.flush());
      // The last tokens can complete a stop sequence only once their held bytes are decoded.
      if (stops.stopped) finishReason = 'stop';
    }
    return {
      text: answer,
      finishReason,
      promptTokens: job.prompt.length,
      completionTokens: sampled,
      cachedTokens: reuse,
      firstTokenSeconds: firstTokenAt - started,
      slot: slot.index,
    };
  }
}
