// First: when tracing is configured, this patches http and pg before anything else loads them.
import '@maas/telemetry/preload';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { main } from '@maas/platform';
import { AUTH, AuthModule } from './auth.module';
import { loadAuthConfig } from './auth.config';

main(AUTH, AuthModule, (app) => {
  const express = app as NestExpressApplication;
  // X-Forwarded-For/-Proto are believed only from these peers (the gateway), so `Secure` and client IPs cannot be spoofed.
  express.set('trust proxy', loadAuthConfig().AUTH_TRUSTED_PROXIES);
  express.useBodyParser('urlencoded', { extended: false, limit: '1mb' });
});
