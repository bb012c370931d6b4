import { bestConcurrencyFor, parseBatchConcurrency, spareBatchSlots } from './batch-capacity';

describe('spareBatchSlots with a best concurrency', () => {
  const w = { capacity: 256, running: 0, waiting: 0, outstanding: 0, state: 'ready' as const, kvCacheUsage: 0 };
  it.each([
    ['unbounded: the reserve and KV decide', { ...w, running: 40, outstanding: 40, kvCacheUsage: 0.2 }, undefined, 40],
    ['bounded below the reserve ceiling', { ...w, running: 40, outstanding: 40, kvCacheUsage: 0.2 }, 48, 8],
    ['at it', { ...w, running: 48, outstanding: 48, kvCacheUsage: 0.3 }, 48, 0],
    ['interactive requests running count against it', { ...w, running: 47, outstanding: 47, kvCacheUsage: 0.3 }, 48, 1],
    ['my own dispatches beyond the heartbeat count too', { ...w, running: 40, outstanding: 46, kvCacheUsage: 0.2 }, 48, 2],
    ['the KV bound still applies under it', { ...w, running: 10, outstanding: 10, kvCacheUsage: 0.5 }, 48, 5],
    [
      'the reserve ceiling still applies under a larger one',
      { ...w, capacity: 64, running: 40, outstanding: 40, kvCacheUsage: 0.2 },
      100,
      8,
    ],
  ])('%s', (_case, e, best, slots) => expect(spareBatchSlots(e, 0.25, best)).toBe(slots));
});

describe('spareBatchSlots with a batch limit (the adaptive controller’s)', () => {
  const w = { capacity: 256, running: 20, waiting: 0, outstanding: 20, state: 'ready' as const, kvCacheUsage: 0.1 };
  it.each([
    ['the batch requests already there count against it', { ...w, batchOutstanding: 6 }, 8, 2],
    ['none past it', { ...w, batchOutstanding: 9 }, 8, 0],
    ['interactive requests do not count against it', { ...w, batchOutstanding: 0 }, 8, 8],
    ['the other bounds still apply under it', { ...w, batchOutstanding: 0, kvCacheUsage: 0.6 }, 8, 5],
    ['no limit: as before', { ...w, batchOutstanding: 4 }, undefined, 20],
  ])('%s', (_case, e, limit, slots) => expect(spareBatchSlots(e, 0.25, 80, limit)).toBe(slots));
});

describe('GATEWAY_BATCH_CONCURRENCY', () => {
  it('reads model=N pairs, with * for any other model', () => {
    const c = parseBatchConcurrency(' openai/gpt-oss-20b=48, *=32 ,Qwen/Qwen2.5-3B-Instruct=96', 'K');
    expect(bestConcurrencyFor(c, 'openai/gpt-oss-20b')).toBe(48);
    expect(bestConcurrencyFor(c, 'Qwen/Qwen2.5-3B-Instruct')).toBe(96);
    expect(bestConcurrencyFor(c, 'other')).toBe(32);
  });

  it('is unbounded when empty', () => {
    expect(bestConcurrencyFor(parseBatchConcurrency('', 'K'), 'm')).toBe(Number.POSITIVE_INFINITY);
  });

  it.each(['m', 'm=0', 'm=1.5', '=4', 'm=x', 'm=4,m=5'])('refuses %j, naming the key', (raw) => {
    expect(() => parseBatchConcurrency(raw, 'GATEWAY_BATCH_CONCURRENCY')).toThrow(/^GATEWAY_BATCH_CONCURRENCY: /);
  });
});
