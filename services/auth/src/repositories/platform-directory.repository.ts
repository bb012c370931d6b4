import { Injectable } from '@nestjs/common';
import { newSealingKeys, openSealedSecret } from '@maas/contracts';
import type { BatchListReply, KeyCreated, KeyCreateRequest, KeySummary, RegistrySnapshot } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** key-registry over NATS: the logged-in user's API keys. */
@Injectable()
export class KeyRegistryRepository {
  constructor(private readonly bus: MessageBus) {}

  /** The new key comes back sealed to a key pair that lives only for this call: NATS never carries it in clear. */
  async create(request: KeyCreateRequest): Promise<KeyCreated> {
    const sealing = newSealingKeys();
    const created = await this.bus.request('key-registry.create', { ...request, sealTo: sealing.sealTo });
    return { ...created, secret: openSealedSecret(created.secret, sealing) };
  }

  async list(userEmail?: string, includeRevoked = false): Promise<KeySummary[]> {
    return (await this.bus.request('key-registry.list', { ...(userEmail ? { userEmail } : {}), includeRevoked })).keys;
  }

  revoke(keyId: string, userEmail?: string): Promise<KeySummary> {
    return this.bus.request('key-registry.revoke', { keyId, ...(userEmail ? { userEmail } : {}) });
  }
}

/** router over NATS: registered workers and the models they serve. */
@Injectable()
export class WorkerDirectoryRepository {
  constructor(private readonly bus: MessageBus) {}

  snapshot(): Promise<RegistrySnapshot> {
    return this.bus.request('router.list-workers', {}, 1500);
  }
}

/** gateway over NATS: batches and their progress (they live in the gateway's tables). */
@Injectable()
export class BatchDirectoryRepository {
  constructor(private readonly bus: MessageBus) {}

  /** One user's batches, newest first; everyone's when `userEmail` is undefined. */
  async list(userEmail: string | undefined, limit = 100): Promise<BatchListReply['batches']> {
    return (await this.bus.request('gateway.list-batches', { ...(userEmail ? { userEmail } : {}), limit }, 3000)).batches;
  }
}
