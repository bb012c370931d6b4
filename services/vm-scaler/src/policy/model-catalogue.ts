import type { ModelCataloguePublished } from '@maas/contracts';
import type { ScalingSpec } from '@maas/scaling';

/**
 * The models the spec manages, as gateways learn them: each with its replica bounds and the boot time
 * of the fastest VM type that has a slot for it (what a request held while it starts is told to expect).
 */
export function modelCatalogue(spec: ScalingSpec, now: number): ModelCataloguePublished {
  const models = Object.keys(spec.models)
    .sort()
    .map((model) => {
      const m = spec.models[model];
      const boots = spec.capacity.vmTypes.filter((t) => (t.slots[model] ?? 0) > 0).map((t) => t.bootSeconds);
      return { model, minReplicas: m.minReplicas, maxReplicas: m.maxReplicas, bootSeconds: boots.length > 0 ? Math.min(...boots) : 0 };
    });
  return { publishedAt: new Date(now).toISOString(), models };
}
