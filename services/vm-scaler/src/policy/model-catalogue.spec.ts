import { resolveScalingSpec } from '@maas/scaling';
import { modelCatalogue } from './model-catalogue';

const spec = (() => {
  const check = resolveScalingSpec({
    capacity: {
      vmTypes: [
        { name: 'slow', accelerator: 'gpu', costPerHour: 1, bootSeconds: 120, slots: { qwen: 1, gpt: 1 }, maxCount: null },
        { name: 'fast', accelerator: 'gpu', costPerHour: 2, bootSeconds: 30, slots: { qwen: 2 }, maxCount: null },
      ],
    },
    models: { qwen: { minReplicas: 0, maxReplicas: 3 }, gpt: { minReplicas: 1, maxReplicas: 2 } },
  });
  if (!check.ok) throw new Error(check.error);
  return check.spec;
})();

describe('modelCatalogue', () => {
  it('lists every model of the spec, sorted, with its bounds and the boot time of the fastest VM type that serves it', () => {
    expect(modelCatalogue(spec, Date.UTC(2026, 0, 1))).toEqual({
      publishedAt: '2026-01-01T00:00:00.000Z',
      models: [
        { model: 'gpt', minReplicas: 1, maxReplicas: 2, bootSeconds: 120 },
        { model: 'qwen', minReplicas: 0, maxReplicas: 3, bootSeconds: 30 },
      ],
    });
  });

  it('is empty for a spec that manages no model', () => {
    const check = resolveScalingSpec({});
    if (!check.ok) throw new Error(check.error);
    expect(modelCatalogue(check.spec, 0).models).toEqual([]);
  });
});
