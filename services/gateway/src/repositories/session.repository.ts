import { Injectable } from '@nestjs/common';
import type { SessionVerifyReply } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** auth over NATS: whose browser session a cookie is. */
@Injectable()
export class SessionRepository {
  constructor(private readonly bus: MessageBus) {}

  verify(token: string, timeoutMs: number): Promise<SessionVerifyReply> {
    return this.bus.request('auth.verify-session', { token }, timeoutMs);
  }
}
