import { decideReplicas, initialReplicaAutoscalerState } from './replica-autoscaler';
import { resolveScalingSpec, ScalingSpec, ScalingSpecOverrides } from './scaling-spec';
import { at, MIN, scalingTimeline } from './testing/timeline';

/** One model, target 10 concurrent × 0.7 = 7 per replica; no VM types (stage 1 only). */
function stageOne(models: ScalingSpecOverrides['models'] = {}, replicas: ScalingSpecOverrides['replicas'] = {}): ScalingSpec {
  const check = resolveScalingSpec({
    replicas,
    models: { qwen: { targetConcurrencyPerReplica: 10, targetUtilization: 0.7, minReplicas: 0, maxReplicas: 50, ...models.qwen } },
  });
  if (!check.ok) throw new Error(check.error);
  return check.spec;
}

describe('stage 1: replicas from concurrency (KPA)', () => {
  it('sizes to the stable-window average over target × utilization', () => {
    const timeline = scalingTimeline(stageOne(), { concurrency: () => 30 });
    timeline.expectDecision(at(0), { replicas: 5, panicking: true }); // 5 ≥ 2 × max(1, 0 ready)
    timeline.expectDecision(at(2 * MIN), { replicas: 5, panicking: false });
    timeline.expectDecision(at(10 * MIN), { replicas: 5, panicking: false });
  });

  const burst = (t: number) => (t >= 2 * MIN && t < 3 * MIN ? 70 : 7);

  describe('a burst from 7 to 70 concurrent at t = 2 min, over by t = 3 min; replicas come up at once', () => {
    const timeline = scalingTimeline(stageOne(), { concurrency: burst });
    it.each([
      { t: at(2 * MIN - 2), expected: { replicas: 1, panicking: false } },
      // one 70 among three 6 s buckets: (7 + 7 + 70) / 3 = 28 → 4, already 2 × 1 ready: panic
      { t: at(2 * MIN), expected: { replicas: 4, panicking: true } },
      { t: at(2 * MIN + 6), expected: { replicas: 10, panicking: true } },
      // once the ready replicas caught up the threshold is no longer crossed; panic ends a stable window later
      { t: at(3 * MIN), expected: { replicas: 10, panicking: false } },
      // stable average (15 × 70 + 15 × 7) / 30 = 38.5 → 6, within the halving limit
      { t: at(3 * MIN + 30), expected: { replicas: 6, panicking: false } },
    ])('at t = $t s: $expected', ({ t, expected }) => {
      timeline.expectDecision(t, expected);
    });
  });

  describe('the same burst while new replicas are still booting (1 ready)', () => {
    const timeline = scalingTimeline(stageOne(), { concurrency: burst, readyReplicas: () => 1 });
    it.each([
      { t: at(2 * MIN + 6), expected: { replicas: 10, panicking: true } },
      // the stable window says 6 but there is no scale-down while panicking
      { t: at(3 * MIN + 30), expected: { replicas: 10, panicking: true } },
      // last crossing at t = 3:02 ((70 + 7 + 7) / 3 = 28 → 4 ≥ 2 × 1); panic lasts a stable window after it
      { t: at(4 * MIN), expected: { replicas: 10, panicking: true } },
      { t: at(4 * MIN + 2), expected: { replicas: 1, panicking: false } },
    ])('at t = $t s: $expected', ({ t, expected }) => {
      timeline.expectDecision(t, expected);
    });
  });

  it('limits scale-up to maxScaleUpRate × ready', () => {
    const timeline = scalingTimeline(stageOne({}, { maxScaleUpRate: 2 }), { concurrency: () => 70, readyReplicas: () => 3 });
    timeline.expectDecision(at(0), { replicas: 6 });
  });

  it('limits scale-down to ready / maxScaleDownRate per decision', () => {
    const timeline = scalingTimeline(stageOne(), { concurrency: (t) => (t < 2 * MIN ? 70 : 0), readyReplicas: () => 10 });
    timeline.expectDecision(at(2 * MIN - 2), { replicas: 10 });
    timeline.expectDecision(at(3 * MIN + 30), { replicas: 5 });
  });

  it('keeps the last replica for the grace period after zero is wanted, then scales to zero', () => {
    const spec = stageOne({}, { scaleToZeroGracePeriodSeconds: 30 });
    const timeline = scalingTimeline(spec, { concurrency: (t) => (t < MIN ? 3 : 0) });
    timeline.expectDecision(at(MIN - 2), { replicas: 1 });
    // the last traffic is in the t = 58 bucket: from t = 118 the stable window is all zeros and the grace period runs
    timeline.expectDecision(at(2 * MIN - 2), { replicas: 1 });
    timeline.expectDecision(at(2 * MIN + 26), { replicas: 1 });
    timeline.expectDecision(at(2 * MIN + 28), { replicas: 0 });
  });

  it('never scales to zero on missing data: the result is explicitly not valid', () => {
    const timeline = scalingTimeline(stageOne(), { concurrency: (t) => (t < MIN ? 20 : null) });
    timeline.expectDecision(at(MIN - 2), { valid: true, replicas: 3 });
    // the last observation (t = 58) is still in the stable window
    timeline.expectDecision(at(MIN + 56), { valid: true, replicas: 3 });
    timeline.expectDecision(at(2 * MIN), { valid: false });
    timeline.expectDecision(at(10 * MIN), { valid: false });
  });

  it.each([
    { concurrency: 0, min: 2, max: 50, expected: 2 },
    { concurrency: 700, min: 0, max: 8, expected: 8 },
  ])('bounds $concurrency concurrent to [$min, $max] → $expected', ({ concurrency, min, max, expected }) => {
    const timeline = scalingTimeline(stageOne({ qwen: { minReplicas: min, maxReplicas: max } }), {
      concurrency: () => concurrency,
      readyReplicas: () => expected,
    });
    timeline.expectDecision(at(2 * MIN), { replicas: expected });
  });

  it('sizes on request rate with the rps metric (linear in load, unlike an LLM engine concurrency)', () => {
    const spec = stageOne({ qwen: { metric: 'rps', replicaRequestsPerSecond: 10 } });
    const timeline = scalingTimeline(spec, { concurrency: () => 1, readyReplicas: () => 4 });
    // no request rate reported: not valid, whatever the concurrency says
    timeline.expectDecision(at(MIN), { valid: false });
    const rated = scalingTimeline(spec, { concurrency: () => 1, requestRate: () => 30, readyReplicas: () => 4 });
    // 30 req/s over 10 × 0.7 per replica
    rated.expectDecision(at(MIN), { valid: true, replicas: 5 });
  });

  it('does not throw on garbage observations and does not mutate its inputs', () => {
    const spec = stageOne();
    const state = Object.freeze({ ...initialReplicaAutoscalerState, buckets: Object.freeze([Object.freeze([0, 7, 1] as const)]) });
    for (const concurrency of [Number.NaN, -1, Number.POSITIVE_INFINITY, null, undefined]) {
      const { decision } = decideReplicas(spec.replicas, spec.models.qwen, state, { concurrency, readyReplicas: Number.NaN }, 2);
      expect(decision.valid).toBe(true); // the earlier bucket still counts
    }
    expect(decideReplicas(spec.replicas, spec.models.qwen, initialReplicaAutoscalerState, undefined, 0).decision).toMatchObject({
      valid: false,
      readyReplicas: 0,
    });
  });
});
