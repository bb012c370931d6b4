import { createHash, timingSafeEqual } from 'node:crypto';
import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { Logger } from '@maas/logging';
import { ApiError, errorType } from '@maas/platform';
import { KEY_REGISTRY_CONFIG, KeyRegistryConfig } from '../key-registry.config';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The admin API's only credential: `Authorization: Bearer <KEY_REGISTRY_ADMIN_TOKEN>`, compared in constant time. */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  constructor(
    @Inject(KEY_REGISTRY_CONFIG) private readonly config: KeyRegistryConfig,
    private readonly logger: Logger,
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<Request>();
    const expected = this.config.KEY_REGISTRY_ADMIN_TOKEN;
    if (!expected)
      throw new ApiError(
        403,
        'the admin API is disabled: set KEY_REGISTRY_ADMIN_TOKEN to enable it',
        errorType(403),
        null,
        'admin_api_disabled',
      );
    const presented = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    if (!presented)
      throw new ApiError(
        401,
        'admin token required: Authorization: Bearer <KEY_REGISTRY_ADMIN_TOKEN>',
        errorType(401),
        null,
        'missing_admin_token',
        {
          'WWW-Authenticate': 'Bearer',
        },
      );
    if (!timingSafeEqual(digest(presented), digest(expected))) {
      this.logger.warn('admin API call with a wrong token', { ip: req.ip, path: req.path });
      throw new ApiError(401, 'invalid admin token', errorType(401), null, 'invalid_admin_token', { 'WWW-Authenticate': 'Bearer' });
    }
    return true;
  }
}
