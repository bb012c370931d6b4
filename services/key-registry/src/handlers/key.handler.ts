import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { KeyCreateRequest, KeyListRequest, KeyRevokeRequest, KeyVerifyRequest } from '@maas/contracts';
import { On } from '@maas/nats';
import { ApiKeyService } from '../services/api-key.service';

@Controller()
export class KeyHandler {
  constructor(private readonly keys: ApiKeyService) {}

  @On('key-registry.verify')
  verify(@Payload() msg: KeyVerifyRequest) {
    return this.keys.verify(msg.prefix, msg.digest);
  }

  @On('key-registry.create')
  create(@Payload() msg: KeyCreateRequest) {
    return this.keys.create(msg);
  }

  @On('key-registry.list')
  list(@Payload() msg: KeyListRequest) {
    return this.keys.list(msg);
  }

  @On('key-registry.revoke')
  revoke(@Payload() msg: KeyRevokeRequest) {
    return this.keys.revoke(msg);
  }
}
