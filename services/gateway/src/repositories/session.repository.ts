import { Injectable } from '@nestjs/common';
import { sessionVerifyRequest, type SessionVerifyReply } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** auth over NATS: whose browser session a cookie is. Only the cookie's digest is sent. */
@Injectable()
export class SessionRepository {
  constructor(private readonly bus: MessageBus) {}

  verify(token: string, timeoutMs: number): Promise<SessionVerifyReply> {
    return this.bus.request('auth.verify-session', sessionVerifyRequest(token), timeoutMs);
  }
}
