import type { IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { addressMatcher, clientAddress, parseCidrs } from '../policy/client-address';

/** Who the client is on the network (believing `X-Forwarded-For` only from trusted proxies) and whether the API is open to it. */
@Injectable()
export class NetworkPolicy {
  private readonly allowList?: (address: string) => boolean;
  private readonly trustedProxy?: (address: string) => boolean;

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    this.allowList = addressMatcher(checked('GATEWAY_ALLOWED_CIDRS', config.GATEWAY_ALLOWED_CIDRS));
    this.trustedProxy = addressMatcher(checked('GATEWAY_TRUSTED_PROXIES', config.GATEWAY_TRUSTED_PROXIES));
  }

  clientAddress(req: IncomingMessage): string | undefined {
    return clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], this.trustedProxy);
  }

  isTrustedProxy(peer: string): boolean {
    return !!this.trustedProxy && this.trustedProxy(peer);
  }

  /** Within GATEWAY_ALLOWED_CIDRS (everyone when it is empty). */
  allowed(address: string | undefined): boolean {
    return !this.allowList || (address !== undefined && this.allowList(address));
  }
}

function checked(name: string, list: string): string[] {
  try {
    return parseCidrs(list);
  } catch (err) {
    throw new Error(`config: ${name}: ${(err as Error).message}`);
  }
}
