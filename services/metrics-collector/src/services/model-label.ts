import { BoundedLabel } from '@maas/platform';

/** Models with a label of their own in this service's metrics; any further (or unknown) model is `other`. */
export const MAX_MODEL_LABELS = 50;

const labels = new BoundedLabel(MAX_MODEL_LABELS);

/**
 * The `model` label of a metric: the model's name once it has shown to be real (`known`: a worker
 * served a request of it, or serves it), else `other`, so names clients invent never mint series.
 */
export function modelLabel(model: string, known: boolean): string {
  return labels.value(model, () => known);
}
