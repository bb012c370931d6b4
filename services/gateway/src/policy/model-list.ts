import type { Capability } from '@maas/contracts';
import { CatalogueEntry, modelState, ModelState } from './model-catalogue';
import type { KnownModel, ReplicaWorker } from './registry-replica';

/** One entry of `GET /v1/models`: OpenAI's model object, with what the platform knows in `metadata`. */
export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  metadata: {
    capabilities: Capability[];
    max_context_tokens: number | null;
    ready_workers: number;
    hardware: ('gpu' | 'cpu')[];
    /** Catalogue models (a vm-scaler manages them) are listed in every state; others only while ready. */
    state: ModelState;
  };
}

const CAPABILITY_ORDER: Capability[] = ['chat', 'completion', 'embedding', 'transcription', 'ocr'];

/** Hugging Face ids name their organisation first (`openai/gpt-oss-20b`); other ids belong to the platform. */
export function ownerOf(model: string): string {
  const slash = model.indexOf('/');
  return slash > 0 ? model.slice(0, slash) : 'open-maas';
}

/**
 * Merges what ready workers serve into one entry per model. A catalogue model without a ready worker
 * is listed with what its workers last said (nothing, before any has registered); another is not listed.
 */
export function modelObject(
  model: KnownModel,
  workers: readonly ReplicaWorker[],
  catalogued?: CatalogueEntry,
  heldRequests = 0,
): ModelObject | undefined {
  const ready = workers.filter((w) => w.state === 'ready');
  if (ready.length === 0 && !catalogued) return undefined;
  const starting = workers.filter((w) => w.state === 'starting').length;
  const capabilities = new Set<Capability>();
  const hardware = new Set<'gpu' | 'cpu'>();
  let context: number | null = null;
  if (ready.length === 0) for (const c of model.capabilities) capabilities.add(c);
  if (ready.length === 0 && model.maxContextTokens) context = model.maxContextTokens;
  for (const w of ready) {
    const served = w.models.get(model.id);
    for (const c of served?.capabilities ?? []) capabilities.add(c);
    hardware.add(w.registration.hardware);
    if (served?.maxContextTokens) context = Math.max(context ?? 0, served.maxContextTokens);
  }
  return {
    id: model.id,
    object: 'model',
    created: Math.floor(model.firstSeenAt / 1000),
    owned_by: ownerOf(model.id),
    metadata: {
      capabilities: CAPABILITY_ORDER.filter((c) => capabilities.has(c)),
      max_context_tokens: context,
      ready_workers: ready.length,
      hardware: [...hardware].sort(),
      state: modelState(ready.length, starting, catalogued, heldRequests),
    },
  };
}
