import type { ModelCataloguePublished } from '@maas/contracts';
import type { KnownModel } from './registry-replica';

export type CatalogueEntry = ModelCataloguePublished['models'][number];

/** How a listed model stands in this gateway's view. */
export type ModelState = 'ready' | 'starting' | 'scaled_to_zero';

/**
 * The models vm-scalers manage, as last announced: each entry lives `staleMs` after its last
 * announcement (a vm-scaler re-announces every few seconds), so a model whose scaler is gone stops
 * being held for. Announcements add to what is known: several scalers may manage different models.
 */
export class ModelCatalogue {
  private readonly entries = new Map<string, { entry: CatalogueEntry; firstSeenAt: number; seenAt: number }>();

  constructor(private readonly staleMs: number) {}

  published(msg: ModelCataloguePublished, now: number): void {
    for (const entry of msg.models) {
      const before = this.entries.get(entry.model);
      this.entries.set(entry.model, { entry, firstSeenAt: before?.firstSeenAt ?? now, seenAt: now });
    }
  }

  get(model: string, now: number): CatalogueEntry | undefined {
    const e = this.entries.get(model);
    if (!e) return undefined;
    if (now - e.seenAt > this.staleMs) {
      this.entries.delete(model);
      return undefined;
    }
    return e.entry;
  }

  /** A catalogue model no worker has described yet: its capabilities are unknown (empty) until one does. */
  known(model: string, now: number): KnownModel | undefined {
    if (!this.get(model, now)) return undefined;
    const e = this.entries.get(model)!;
    return { id: model, capabilities: new Set(), firstSeenAt: e.firstSeenAt, lastServedAt: e.seenAt };
  }

  models(now: number): string[] {
    return [...this.entries.keys()].filter((m) => this.get(m, now) !== undefined);
  }
}

/** Ready with a ready worker; starting while a worker starts, the scaler keeps replicas up, or requests wait for one; else scaled to zero. */
export function modelState(
  readyWorkers: number,
  startingWorkers: number,
  entry: CatalogueEntry | undefined,
  heldRequests: number,
): ModelState {
  if (readyWorkers > 0) return 'ready';
  if (startingWorkers > 0 || (entry?.minReplicas ?? 0) > 0 || heldRequests > 0) return 'starting';
  return 'scaled_to_zero';
}

/** What a request held for a starting model is told: when to retry, from the boot time the catalogue gives and the time already waited. */
export function startEta(entry: CatalogueEntry | undefined, waitedMs: number): { retryAfterSeconds: number; message: string } {
  if (!entry) return { retryAfterSeconds: 5, message: '' };
  const left = Math.ceil(entry.bootSeconds - waitedMs / 1000);
  const retryAfterSeconds = left >= 1 ? left : 5;
  return {
    retryAfterSeconds,
    message: `; the model is starting (its capacity takes about ${entry.bootSeconds} s to start): retry in ${retryAfterSeconds} s`,
  };
}
