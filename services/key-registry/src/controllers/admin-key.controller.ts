import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import type { KeyCreateRequest } from '@maas/contracts';
import { messageValidator } from '@maas/contracts';
import { ApiError, errorType } from '@maas/platform';
import { ApiKeyService, InvalidKeyRequestError, KeyNotFoundError } from '../services/api-key.service';
import { AdminTokenGuard } from './admin-token.guard';

const notFound = (err: unknown): never => {
  if (err instanceof KeyNotFoundError) throw new ApiError(404, err.message, errorType(404), null, 'key_not_found');
  throw err;
};

/** Admin HTTP API over the same use cases as the NATS commands: create (secret shown once), list, show, revoke. */
@Controller('admin/keys')
@UseGuards(AdminTokenGuard)
export class AdminKeyController {
  constructor(private readonly keys: ApiKeyService) {}

  @Post()
  @HttpCode(201)
  create(@Body() body: unknown) {
    // The same schema as key-registry.create over NATS.
    const checked = messageValidator().message('key-registry.create', body);
    if (!checked.ok) throw new ApiError(400, `invalid key request: ${checked.error}`, errorType(400), null, 'invalid_request');
    return this.keys.create(checked.value as KeyCreateRequest).catch((err: unknown) => {
      if (err instanceof InvalidKeyRequestError)
        throw new ApiError(400, `invalid key request: ${err.message}`, errorType(400), err.param, 'invalid_request');
      throw err;
    });
  }

  @Get()
  list(@Query('userEmail') userEmail?: string, @Query('includeRevoked') includeRevoked?: string) {
    return this.keys.list({ ...(userEmail ? { userEmail } : {}), includeRevoked: includeRevoked === 'true' || includeRevoked === '1' });
  }

  @Get(':keyId')
  get(@Param('keyId') keyId: string) {
    return this.keys.get(keyId).catch(notFound);
  }

  @Delete(':keyId')
  revoke(@Param('keyId') keyId: string) {
    return this.keys.revoke({ keyId }).catch(notFound);
  }
}
