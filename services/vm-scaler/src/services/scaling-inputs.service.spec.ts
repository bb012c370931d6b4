import { ScalingInputsService, PENDING_STALE_MS } from './scaling-inputs.service';

describe('ScalingInputsService pending demand', () => {
  const report = (gatewayId: string, models: Record<string, number>) => ({
    gatewayId,
    reportedAt: '',
    models: Object.entries(models).map(([model, held]) => ({ model, held })),
  });

  it('sums the latest report of each gateway, forgets a silent gateway, and announces a model newly held for', () => {
    let now = 0;
    const inputs = new ScalingInputsService({ now: () => now, monotonic: () => now });
    const announced: string[] = [];
    inputs.onPendingDemand((m) => announced.push(m));

    inputs.pendingReported(report('g1', { qwen: 2 }));
    inputs.pendingReported(report('g2', { qwen: 1, gpt: 1 }));
    expect(announced).toEqual(['qwen', 'gpt']); // qwen once: it was already held for when g2 reported it
    expect([inputs.pending('qwen'), inputs.pending('gpt')]).toEqual([3, 1]);

    now = 1000;
    inputs.pendingReported(report('g1', { qwen: 1 })); // replaces g1's last report
    expect(inputs.pending('qwen')).toBe(2);
    inputs.pendingReported(report('g2', {})); // g2 holds nothing now
    expect([inputs.pending('qwen'), inputs.pending('gpt')]).toEqual([1, 0]);

    expect(inputs.pending('qwen', 1000 + PENDING_STALE_MS + 1)).toBe(0);
  });
});
