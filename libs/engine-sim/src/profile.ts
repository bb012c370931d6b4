/** A measured point a profile was calibrated against: mean latency and total (prompt + output) tokens/s. */
export interface Measurement {
  readonly workload: WorkloadName;
  readonly concurrency: number;
  readonly latencySeconds?: number;
  readonly tokensPerSecond: number;
}

export type WorkloadName = 'single-question' | 'summary';

/** How one model behaves on one kind of node, in the terms vLLM and llama.cpp are tuned with. */
export interface EngineProfile {
  readonly name: string;
  /** Hugging Face id served by default. */
  readonly model: string;
  readonly runtime: 'vllm' | 'llama.cpp';
  readonly hardware: string;
  /** Running-batch bound (vLLM max_num_seqs, llama.cpp --parallel). */
  readonly maxNumSeqs: number;
  /** Tokens one step may process (vLLM max_num_batched_tokens, llama.cpp --batch-size): chunked prefill. */
  readonly maxBatchedTokens: number;
  /**
   * vLLM's --long-prefill-token-threshold: no request's prompt chunk in one step exceeds this many tokens
   * (0 or absent: only the step budget bounds it). Long prompts then take more, shorter steps, so the
   * decoding batch and short prompts are not held up behind a whole budget of someone's long prompt.
   */
  readonly longPrefillTokenThreshold?: number;
  readonly maxModelLen: number;
  /** Tokens per KV block (vLLM's default 16). */
  readonly blockSize: number;
  readonly kvBlocks: number;
  /** Marginal prefill speed on top of one forward pass, in uncached prompt tokens per second. */
  readonly prefillTokensPerSecond: number;
  /** Step time in ms of a forward pass decoding `batch` sequences; linear between knots, last slope beyond. */
  readonly decodeStepMs: ReadonlyArray<readonly [batch: number, ms: number]>;
  /** Attention cost: extra step time in ms per 1,000 tokens of context held by the decoding batch. */
  readonly decodeMsPer1kContextTokens: number;
  /** Model load time from process start to serving. */
  readonly startupSeconds: number;
  readonly embeddingDimension: number;
  /** Answer length range when a request lets the model stop by itself (no ignore_eos). */
  readonly naturalOutputTokens: readonly [min: number, max: number];
  /** The paper's measurements this profile reproduces. */
  readonly measured: readonly Measurement[];
}

/** Step time in seconds for a decode batch of `batch` sequences (a pure prefill step costs as batch 1). */
export function decodeStepSeconds(profile: EngineProfile, batch: number): number {
  const knots = profile.decodeStepMs;
  const b = Math.max(1, batch);
  if (b <= knots[0][0]) return knots[0][1] / 1000;
  for (let i = 1; i < knots.length; i += 1) {
    const [b1, ms1] = knots[i];
    if (b <= b1 || i === knots.length - 1) {
      const [b0, ms0] = knots[i - 1];
      return (ms0 + ((ms1 - ms0) * (b - b0)) / (b1 - b0)) / 1000;
    }
  }
  return knots[0][1] / 1000;
}

/** Throws naming the first bad field, so a hand-written profile fails at start-up. */
export function validateProfile(p: EngineProfile): EngineProfile {
  const positiveInt = (name: keyof EngineProfile) => {
    const v = p[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw new Error(`profile ${p.name}: ${name} must be a positive integer, got ${String(v)}`);
  };
  positiveInt('maxNumSeqs');
  positiveInt('maxBatchedTokens');
  positiveInt('maxModelLen');
  positiveInt('blockSize');
  positiveInt('kvBlocks');
  positiveInt('embeddingDimension');
  if (!(p.prefillTokensPerSecond > 0)) throw new Error(`profile ${p.name}: prefillTokensPerSecond must be positive`);
  if (!(p.decodeMsPer1kContextTokens >= 0)) throw new Error(`profile ${p.name}: decodeMsPer1kContextTokens must be >= 0`);
  if (!(p.startupSeconds >= 0)) throw new Error(`profile ${p.name}: startupSeconds must be >= 0`);
  const threshold = p.longPrefillTokenThreshold ?? 0;
  if (!(Number.isInteger(threshold) && threshold >= 0))
    throw new Error(`profile ${p.name}: longPrefillTokenThreshold must be an integer >= 0, got ${String(threshold)}`);
  if (p.maxBatchedTokens < p.maxNumSeqs) throw new Error(`profile ${p.name}: maxBatchedTokens must be >= maxNumSeqs`);
  const knots = p.decodeStepMs;
  if (knots.length === 0) throw new Error(`profile ${p.name}: decodeStepMs needs at least one knot`);
  for (let i = 0; i < knots.length; i += 1) {
    if (!(knots[i][1] > 0)) throw new Error(`profile ${p.name}: decodeStepMs[${i}] must have a positive time`);
    if (i > 0 && !(knots[i][0] > knots[i - 1][0] && knots[i][1] >= knots[i - 1][1])) {
      throw new Error(`profile ${p.name}: decodeStepMs must rise with batch size (knot ${i})`);
    }
  }
  const [lo, hi] = p.naturalOutputTokens;
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1 && hi >= lo))
    throw new Error(`profile ${p.name}: naturalOutputTokens must be 1 <= min <= max`);
  return p;
}
