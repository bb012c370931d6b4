// Idle-while-queued picks of bench:routing on four requests over two simulated workers, read live.
import { findProfile } from '@maas/engine-sim';
import { routingPresets } from '@maas/routing';
import { replayCluster } from './cluster-replay';
import { TraceRequest } from './trace';

const profile = findProfile('a100-qwen2.5-3b');

/**
 * r0's 20,000-token prompt keeps w0 prefilling for ~0.85 s (2,048 tokens a step), so r2, sent to w0 by
 * round-robin, waits there; r1 and r3 are short and w1 has finished them by 0.3 s. At 0.3 s r4 arrives:
 * w1 idles while w0 has r2 waiting.
 */
const trace: TraceRequest[] = [
  { id: 'r0', arrivalSeconds: 0, promptTokens: 20_000, outputTokens: 2, blocks: [1] },
  { id: 'r1', arrivalSeconds: 0.001, promptTokens: 100, outputTokens: 1, blocks: [2] },
  { id: 'r2', arrivalSeconds: 0.002, promptTokens: 100, outputTokens: 1, blocks: [3] },
  { id: 'r3', arrivalSeconds: 0.003, promptTokens: 100, outputTokens: 1, blocks: [4] },
  { id: 'r4', arrivalSeconds: 0.3, promptTokens: 100, outputTokens: 1, blocks: [5] },
];

function replay(policy: 'round-robin' | 'least-outstanding') {
  return replayCluster({ trace, workers: 2, profile, routing: routingPresets[policy], heartbeatMs: 0, seed: 1 });
}

describe('replayCluster idle-while-queued picks', () => {
  it('counts round-robin sending r4 to the worker with a queue while the other idles, and the pick as lost', () => {
    const result = replay('round-robin');
    expect(result.outcomes.find((o) => o.id === 'r4')?.worker).toBe('w0');
    expect(result.queuedPicksWhileIdle).toBe(1);
    expect(result.queuedPicksWhileIdleLost).toBe(1);
  });

  it('counts none when the idle worker gets it', () => {
    const result = replay('least-outstanding');
    expect(result.outcomes.find((o) => o.id === 'r4')?.worker).toBe('w1');
    expect(result.queuedPicksWhileIdle).toBe(0);
    expect(result.queuedPicksWhileIdleLost).toBe(0);
  });
});
