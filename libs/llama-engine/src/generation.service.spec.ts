import { JobPool } from '@maas/media';
import { GenerationJob, GenerationObserver, GenerationService } from './generation.service';
import { GenerationSlot, LlamaRuntime } from './llama-runtime';

const EOG = 0;
const ids = (text: string) => [...text].map((c) => c.charCodeAt(0));

/** A slot that "samples" a fixed script; with a gate, one token per `release()`. */
class ScriptedSlot implements GenerationSlot {
  cached: number[] = [];
  readonly calls: { prompt: number[]; reuse: number }[] = [];
  private waiters: (() => void)[] = [];
  private credit = 0;

  constructor(
    readonly index: number,
    private readonly script: number[],
    private readonly gated = false,
  ) {}

  cachedTokens(): readonly number[] {
    return this.cached;
  }

  release(n = 1): void {
    this.credit += n;
    while (this.credit > 0 && this.waiters.length > 0) {
      this.credit -= 1;
      (this.waiters.shift() as () => void)();
    }
  }

  private async step(): Promise<void> {
    if (!this.gated) return;
    if (this.credit > 0) {
      this.credit -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  async *generate(prompt: readonly number[], reuse: number): AsyncGenerator<number, void, void> {
    this.calls.push({ prompt: [...prompt], reuse });
    this.cached = [...prompt];
    for (const token of this.script) {
      await this.step();
      this.cached.push(token);
      yield token;
    }
  }
}

function runtime(slots: ScriptedSlot[], contextSize = 100): LlamaRuntime {
  return {
    facts: {
      architecture: 'test',
      trainContextSize: contextSize,
      embeddingLength: 4,
      vocabularySize: 256,
      chatFormat: 'test',
      fileBytes: 0,
      runtime: 'test',
    },
    contextSize,
    slots,
    tokenizePrompt: (text) => ids(text),
    detokenize: (tokens) => tokens.map((t) => (t === EOG ? '' : String.fromCharCode(t))).join(''),
    isEndOfGeneration: (t) => t === EOG,
    renderChat: () => ({ tokens: [], stopTokens: [], stopTexts: [] }),
    close: async () => undefined,
  };
}

const job = (extra: Partial<GenerationJob> = {}): GenerationJob => ({
  prompt: [1, 2, 3],
  maxTokens: 50,
  sampling: { temperature: 0, topP: 1, topK: 0, minP: 0 },
  stopTexts: [],
  stopTokens: [],
  ignoreEos: false,
  ...extra,
});

const tick = () => new Promise((r) => setImmediate(r));

describe('GenerationService', () => {
  it.each([
    ['ends at an end-of-generation token, counting it', [...ids('hi'), EOG, ...ids('xx')], {}, 'hi', 'stop', 3],
    ['ends at max_tokens', ids('abcdef'), { maxTokens: 3 }, 'abc', 'length', 3],
    ['ignores end-of-generation when asked', [...ids('a'), EOG, ...ids('bc')], { ignoreEos: true, maxTokens: 3 }, 'ab', 'length', 3],
    ['ends at a stop text, which is not sent', ids('abcXYdef'), { stopTexts: ['XY'] }, 'abc', 'stop', 5],
    ['ends at a template end-of-turn token', [...ids('ab'), 7, ...ids('c')], { stopTokens: [7] }, 'ab', 'stop', 3],
    ['ends at the end of the script like a context limit', ids('ab'), {}, 'ab', 'length', 2],
  ])('%s', async (_name, script, extra, text, finishReason, completionTokens) => {
    const service = new GenerationService(runtime([new ScriptedSlot(0, script)]), new JobPool(1));
    const pieces: string[] = [];
    const outcome = await service.run(job({ ...extra, onText: (t) => pieces.push(t) }));
    expect(outcome).toMatchObject({ text, finishReason, completionTokens, promptTokens: 3 });
    expect(pieces.join('')).toBe(text);
  });

  it('streams one piece per token', async () => {
    const service = new GenerationService(runtime([new ScriptedSlot(0, ids('abc'))]), new JobPool(1));
    const pieces: string[] = [];
    await service.run(job({ onText: (t) => pieces.push(t) }));
    expect(pieces).toEqual(['a', 'b', 'c']);
  });

  it('runs a prompt on the slot that holds its prefix and reports the reuse', async () => {
    const slots = [new ScriptedSlot(0, ids('a')), new ScriptedSlot(1, ids('b'))];
    const started: [number, number][] = [];
    const observer: GenerationObserver = { started: (p, c) => started.push([p, c]), sampled: () => undefined };
    const service = new GenerationService(runtime(slots), new JobPool(2), observer);
    slots[1].cached = [9, 9];
    slots[0].cached = [1, 2, 7];
    const outcome = await service.run(job({ prompt: [1, 2, 3, 4] }));
    expect(outcome).toMatchObject({ slot: 0, cachedTokens: 2 });
    expect(slots[0].calls).toEqual([{ prompt: [1, 2, 3, 4], reuse: 2 }]);
    expect(started).toEqual([[4, 2]]);
  });

  it('queues beyond its slots and reports KV use of the running request', async () => {
    const slot = new ScriptedSlot(0, ids('ab'), true);
    const pool = new JobPool(1);
    const service = new GenerationService(runtime([slot], 10), pool);
    const first = service.run(job());
    const second = service.run(job({ prompt: [5] }));
    await tick();
    expect(pool.load()).toEqual({ running: 1, waiting: 1 });
    slot.release();
    await tick();
    expect(service.kvCacheUsage()).toBeCloseTo(0.4, 9); // 3 prompt + 1 sampled of 10
    slot.release(10);
    await expect(first).resolves.toMatchObject({ text: 'ab' });
    await expect(second).resolves.toMatchObject({ text: 'ab' });
    expect(service.kvCacheUsage()).toBe(0);
  });

  it('stops a running generation when its client goes away and frees the slot', async () => {
    const slot = new ScriptedSlot(0, ids('abcdefgh'), true);
    const sampled: number[] = [];
    const service = new GenerationService(runtime([slot]), new JobPool(1), { started: () => undefined, sampled: () => sampled.push(1) });
    const client = new AbortController();
    const pieces: string[] = [];
    const running = service.run(job({ onText: (t) => pieces.push(t) }), { signal: client.signal });
    slot.release(2);
    await tick();
    client.abort('client disconnected');
    slot.release(10);
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    // The token in flight when the abort came is the last one pulled.
    expect(sampled.length).toBeLessThanOrEqual(3);
    expect(pieces.join('')).toBe('ab');
    await expect(service.run(job({ maxTokens: 1 }))).resolves.toMatchObject({ text: 'a', slot: 0 });
  });

  it('drops a queued request whose client goes away', async () => {
    const slot = new ScriptedSlot(0, ids('ab'), true);
    const pool = new JobPool(1);
    const service = new GenerationService(runtime([slot]), pool);
    const first = service.run(job());
    const client = new AbortController();
    const queued = service.run(job(), { signal: client.signal });
    client.abort('client disconnected');
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    expect(pool.waitingJobs).toBe(0);
    slot.release(5);
    await first;
    expect(slot.calls).toHaveLength(1);
  });

  it('refuses a pool wider than the context has sequences', () => {
    expect(() => new GenerationService(runtime([new ScriptedSlot(0, [])]), new JobPool(2))).toThrow(
      'pool runs 2 jobs at once but the context has 1 sequences',
    );
  });
});
