import { SimulatedEngine } from './engine';
import { EngineEvent, EngineOptions, EngineRequest, SchedulingPolicy } from './engine-types';
import { EngineProfile } from './profile';
import { findProfile } from './profiles';
import { startSimServer } from './server';

/** 10 ms per step + 1 ms per extra sequence, 10,000 prefill tokens/s (as engine.spec.ts). */
function profile(overrides: Partial<EngineProfile> = {}): EngineProfile {
  return {
    name: 'test',
    model: 'test/model',
    runtime: 'vllm',
    hardware: 'test',
    maxNumSeqs: 4,
    maxBatchedTokens: 512,
    maxModelLen: 4096,
    blockSize: 16,
    kvBlocks: 1000,
    prefillTokensPerSecond: 10000,
    decodeStepMs: [
      [1, 10],
      [11, 20],
    ],
    decodeMsPer1kContextTokens: 0,
    startupSeconds: 0,
    embeddingDimension: 8,
    naturalOutputTokens: [10, 20],
    measured: [],
    ...overrides,
  };
}

function drive(e: SimulatedEngine, arrivals: Array<[number, EngineRequest]>): EngineEvent[] {
  const pending = [...arrivals].sort((a, b) => a[0] - b[0]);
  const events: EngineEvent[] = [];
  for (;;) {
    const next = e.nextEventTime();
    const t = Math.min(next ?? Number.POSITIVE_INFINITY, pending[0]?.[0] ?? Number.POSITIVE_INFINITY);
    if (!Number.isFinite(t)) return events;
    while (pending.length > 0 && pending[0][0] <= t) e.submit(pending.shift()![1], t);
    events.push(...e.advance(t));
  }
}

const req = (id: string, promptTokens: number, outputTokens: number, priority?: number): EngineRequest => ({
  id,
  promptTokens,
  outputTokens,
  priority,
});
const ids = (events: EngineEvent[], type: EngineEvent['type']) => events.filter((e) => e.type === type).map((e) => ('id' in e ? e.id : ''));
const finishedAt = (events: EngineEvent[], id: string) => events.find((e) => e.type === 'finished' && e.id === id)?.time;

interface Case {
  readonly name: string;
  readonly policy: SchedulingPolicy;
  readonly profile: Partial<EngineProfile>;
  readonly arrivals: Array<[number, EngineRequest]>;
  /** Order of 'started' events (first admission of each, and re-admissions). */
  readonly started: readonly string[];
  readonly preempted: readonly string[];
}

const cases: Case[] = [
  {
    name: 'fcfs admits in arrival order, ignoring priority',
    policy: 'fcfs',
    profile: { maxNumSeqs: 1 },
    arrivals: [
      [0, req('a', 16, 5, 5)],
      [0.001, req('b', 16, 5, 3)],
      [0.001, req('c', 16, 5, 0)],
      [0.001, req('d', 16, 5, 0)],
    ],
    started: ['a', 'b', 'c', 'd'],
    preempted: [],
  },
  {
    name: 'fcfs never preempts for a more urgent request',
    policy: 'fcfs',
    profile: { maxNumSeqs: 1 },
    arrivals: [
      [0, req('batch', 16, 50, 1)],
      [0.05, req('chat', 16, 5, -1)],
    ],
    started: ['batch', 'chat'],
    preempted: [],
  },
  {
    name: 'priority orders the waiting queue by (priority, arrival)',
    policy: 'priority',
    profile: { maxNumSeqs: 1 },
    arrivals: [
      [0, req('a', 16, 5, 0)],
      [0.001, req('b', 16, 5, 3)],
      [0.002, req('c', 16, 5, 0)],
      [0.003, req('d', 16, 5, 1)],
      [0.004, req('e', 16, 5, 0)],
    ],
    started: ['a', 'c', 'e', 'd', 'b'],
    preempted: [],
  },
  {
    name: 'priority preempts the least urgent running request when the batch is full',
    policy: 'priority',
    profile: { maxNumSeqs: 2 },
    arrivals: [
      [0, req('b1', 16, 50, 1)],
      [0, req('b2', 16, 50, 1)],
      [0.05, req('chat', 16, 5, 0)],
    ],
    // b2 arrived with b1 but later: it is the one evicted, and it is recomputed after chat.
    started: ['b1', 'b2', 'chat', 'b2'],
    preempted: ['b2'],
  },
  {
    name: 'priority preempts the lowest priority before a later arrival of a higher one',
    policy: 'priority',
    profile: { maxNumSeqs: 2 },
    arrivals: [
      [0, req('low', 16, 50, 2)],
      [0.01, req('mid', 16, 50, 1)],
      [0.05, req('chat', 16, 5, 0)],
    ],
    started: ['low', 'mid', 'chat', 'low'],
    preempted: ['low'],
  },
  {
    name: 'priority preempts for KV blocks as well as batch slots',
    policy: 'priority',
    // 10 blocks: b1 holds 7 (100 prompt + 10 output tokens), chat needs 4.
    profile: { maxNumSeqs: 4, kvBlocks: 10 },
    arrivals: [
      [0, req('b1', 100, 10, 1)],
      [0.015, req('chat', 48, 10, 0)],
    ],
    started: ['b1', 'chat', 'b1'],
    preempted: ['b1'],
  },
  {
    name: 'priority does not preempt requests of equal priority',
    policy: 'priority',
    profile: { maxNumSeqs: 1 },
    arrivals: [
      [0, req('a', 16, 50, 0)],
      [0.05, req('b', 16, 5, 0)],
    ],
    started: ['a', 'b'],
    preempted: [],
  },
  {
    name: 'priority with a single priority is fcfs',
    policy: 'priority',
    profile: { maxNumSeqs: 1 },
    arrivals: [
      [0, req('a', 16, 5)],
      [0.001, req('b', 16, 5)],
      [0.002, req('c', 16, 5)],
    ],
    started: ['a', 'b', 'c'],
    preempted: [],
  },
];

describe('SimulatedEngine scheduling policy', () => {
  for (const granularity of ['step', 'request'] as const) {
    describe(`${granularity} granularity`, () => {
      it.each(cases)('$name', (c) => {
        const options: EngineOptions = { profile: profile(c.profile), schedulingPolicy: c.policy, granularity };
        const events = drive(new SimulatedEngine(options), c.arrivals);
        expect(ids(events, 'started')).toEqual(c.started);
        expect(ids(events, 'preempted')).toEqual(c.preempted);
        // Everything still finishes, with all its tokens.
        expect(ids(events, 'finished').sort()).toEqual(c.arrivals.map(([, r]) => r.id).sort());
        for (const [, r] of c.arrivals) {
          const f = events.find((e) => e.type === 'finished' && e.id === r.id);
          expect(f && f.type === 'finished' && f.outputTokens).toBe(r.outputTokens);
        }
      });
    });
  }

  it('lets an urgent request overtake a full batch: its latency is as if alone', () => {
    const batch = Array.from({ length: 4 }, (_, i): [number, EngineRequest] => [0, req(`b${i}`, 16, 200, 1)]);
    const chat: [number, EngineRequest] = [0.1, req('chat', 16, 5, 0)];
    const fcfs = drive(new SimulatedEngine({ profile: profile(), schedulingPolicy: 'fcfs' }), [...batch, chat]);
    const prio = drive(new SimulatedEngine({ profile: profile(), schedulingPolicy: 'priority' }), [...batch, chat]);
    expect(finishedAt(fcfs, 'chat')! - 0.1).toBeGreaterThan(1);
    expect(finishedAt(prio, 'chat')! - 0.1).toBeLessThan(0.1);
    expect(prio.filter((e) => e.type === 'preempted')).toHaveLength(1);
  });

  it.each([
    // 512-token budget, 10k prefill tokens/s: a step of 512 prompt tokens takes 10 + 51.2 ms. The chat arrives
    // during the first chunk of the long prompt; with priority it takes its share of the very next step.
    { policy: 'fcfs' as const, ttft: [0.2, 0.3] },
    { policy: 'priority' as const, ttft: [0.1, 0.12] },
  ])('$policy: who gets the step budget first when a short prompt arrives during a long one', ({ policy, ttft }) => {
    const arrivals: Array<[number, EngineRequest]> = [
      [0, req('batch', 2048, 5, 1)],
      [0.01, req('chat', 16, 5, 0)],
    ];
    const events = drive(new SimulatedEngine({ profile: profile(), schedulingPolicy: policy, granularity: 'step' }), arrivals);
    const first = events.find((e) => e.type === 'first-token' && e.id === 'chat')!;
    expect(first.time - 0.01).toBeGreaterThan(ttft[0]);
    expect(first.time - 0.01).toBeLessThan(ttft[1]);
    // The long prompt still gets all of its tokens, chunk by chunk.
    expect(events.find((e) => e.type === 'finished' && e.id === 'batch')).toMatchObject({ outputTokens: 5 });
  });

  it('rejects a non-integer priority and an unknown policy', () => {
    const e = new SimulatedEngine({ profile: profile(), schedulingPolicy: 'priority' });
    expect(() => e.submit(req('a', 16, 5, 0.5), 0)).toThrow(/priority must be an integer/);
    expect(() => new SimulatedEngine({ profile: profile(), schedulingPolicy: 'lifo' as SchedulingPolicy })).toThrow(/schedulingPolicy/);
  });
});

describe('sim-engine HTTP server: priority in the body', () => {
  const chat = (priority?: number) => ({
    messages: [{ role: 'user', content: 'hello' }],
    max_tokens: 3,
    ignore_eos: true,
    ...(priority === undefined ? {} : { priority }),
  });

  it.each([
    { policy: 'fcfs' as const, priority: undefined, status: 200 },
    { policy: 'fcfs' as const, priority: 0, status: 200 },
    { policy: 'fcfs' as const, priority: 1, status: 400 },
    { policy: 'priority' as const, priority: 1, status: 200 },
    { policy: 'priority' as const, priority: -5, status: 200 },
    { policy: 'priority' as const, priority: 1.5, status: 400 },
  ])('$policy server, priority $priority: $status', async ({ policy, priority, status }) => {
    const server = await startSimServer({
      profile: findProfile('a100-qwen2.5-3b'),
      port: 0,
      startupSeconds: 0,
      timeScale: 50,
      schedulingPolicy: policy,
    });
    try {
      await server.ready;
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chat(priority)),
      });
      const body = (await res.json()) as { error?: { param: string | null } };
      expect(res.status).toBe(status);
      if (status === 400) expect(body.error?.param).toBe('priority');
    } finally {
      await server.close();
    }
  });
});
