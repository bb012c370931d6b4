/** What the vm-scaler writes into a model's worker workload: pure, no client, no I/O. */

export const WORKER_LABEL = 'open-maas.io/component';
export const WORKER_LABEL_VALUE = 'worker';
export const MODEL_ANNOTATION = 'open-maas.io/model';

/** A model name as a DNS-1123 label fragment: `Qwen/Qwen2.5-3B-Instruct` → `qwen-qwen2-5-3b-instruct`. */
export function modelSlug(model: string): string {
  const slug = model
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return slug || 'model';
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

function substitute(value: Json, vars: Readonly<Record<string, string>>): Json {
  if (typeof value === 'string') return value.replace(/\{(model|slug|namespace)\}/g, (_, key: string) => vars[key]);
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, vars)]));
  return value;
}

/**
 * The worker template (a Deployment or Knative Service whose strings may hold `{model}`, `{slug}`
 * and `{namespace}`) for one model, labelled as a worker and annotated with the model it serves.
 */
export function renderWorkerTemplate(template: Record<string, unknown>, model: string, namespace: string): Record<string, unknown> {
  const object = substitute(template as Json, { model, slug: modelSlug(model), namespace }) as Record<string, Json>;
  const metadata = (object.metadata ?? {}) as Record<string, Json>;
  if (typeof metadata.name !== 'string' || metadata.name === '')
    throw new Error('worker template: metadata.name must be set (e.g. "maas-worker-{slug}")');
  return {
    ...object,
    metadata: {
      ...metadata,
      labels: { ...((metadata.labels as Record<string, Json>) ?? {}), [WORKER_LABEL]: WORKER_LABEL_VALUE },
      annotations: { ...((metadata.annotations as Record<string, Json>) ?? {}), [MODEL_ANNOTATION]: model },
    },
  };
}

/**
 * Knative's bounds for a model: stage 1's replicas are the floor (`min-scale`, so forecast-driven
 * capacity is warm before the load arrives), the model's maximum the ceiling within which Knative's
 * own autoscaler follows concurrency.
 */
export function knativeScaleBounds(desiredReplicas: number, maxReplicas: number): { minScale: number; maxScale: number } {
  const minScale = Math.max(0, Math.min(desiredReplicas, maxReplicas));
  return { minScale, maxScale: Math.max(minScale, maxReplicas, 1) };
}
