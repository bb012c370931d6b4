import { Injectable } from '@nestjs/common';
import type { VerifiedKey } from '../policy/key-cache';
import { ModelObject, modelObject } from '../policy/model-list';
import { WorkerRegistryService } from './worker-registry.service';

/** `GET /v1/models`: the models ready workers serve now and the catalogue's (in any state), merged, limited to what the key may use. */
@Injectable()
export class ModelsService {
  constructor(private readonly registry: WorkerRegistryService) {}

  list(key: VerifiedKey): { object: 'list'; data: ModelObject[] } {
    const ids = new Set<string>(this.registry.catalogueModels());
    // the models workers list, not every worker: a fleet of a thousand serving one model is one entry
    for (const id of this.registry.servedModels()) ids.add(id);
    const data: ModelObject[] = [];
    for (const id of [...ids].sort()) {
      const m = this.get(key, id);
      if (m) data.push(m);
    }
    return { object: 'list', data };
  }

  get(key: VerifiedKey, id: string): ModelObject | undefined {
    if (!key.allowsModel(id)) return undefined;
    const known = this.registry.knownModel(id);
    return known
      ? modelObject(known, this.registry.workersFor(id), this.registry.catalogueEntry(id), this.registry.heldFor(id))
      : undefined;
  }
}
