import 'reflect-metadata';
import { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NatsConnection } from 'nats';
import { Subjects } from '@maas/contracts';
import { ConfigError, env, loadConfig, platformConfigSpec } from '@maas/config';
import { Logger, parseLogLevel } from '@maas/logging';
import { NatsTransport } from '@maas/nats';
import { startTelemetry, stopTelemetry } from '@maas/telemetry';
import { OpenAIErrorFilter } from './openai-error.filter';
import { DEFAULT_PORTS, NATS_CONNECTION, portVariable, ServiceDefinition } from './service-definition';

import { PLATFORM_VERSION } from './version';
export { PLATFORM_VERSION };

export interface RunningService {
  app: INestApplication;
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts one service: telemetry, Nest HTTP app, NATS transport, then the HTTP listener. Logs one
 * `ready` line with the URL. Configuration errors print one line naming the key and exit 1.
 */
export async function runService(
  definition: ServiceDefinition,
  module: Type<unknown>,
  configure?: (app: INestApplication) => void | Promise<void>,
): Promise<RunningService> {
  const logger = new Logger(definition.name, parseLogLevel(process.env.LOG_LEVEL));
  let port: number;
  let host: string;
  let otlp: string | undefined;
  try {
    const cfg = loadConfig(
      {
        ...platformConfigSpec,
        PORT: env.int(DEFAULT_PORTS[definition.name], 0, 65535),
        HOST: env.string('127.0.0.1'),
      },
      { ...process.env, PORT: process.env[portVariable(definition.name)] },
    );
    port = cfg.PORT;
    host = cfg.HOST;
    otlp = cfg.OTEL_EXPORTER_OTLP_ENDPOINT;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${definition.name}: ${err.message.replace(/\bPORT\b/, portVariable(definition.name))}\n`);
      process.exit(1);
    }
    throw err;
  }
  startTelemetry(definition.name, otlp);

  const app = await NestFactory.create(module, { logger, abortOnError: false });
  app.useGlobalFilters(new OpenAIErrorFilter());
  await configure?.(app);
  const nc = app.get<NatsConnection>(NATS_CONNECTION);
  const subjects = app.get(Subjects);
  const config = loadConfig(platformConfigSpec);
  app.connectMicroservice(
    {
      strategy: new NatsTransport({
        nc,
        subjects,
        service: definition.name,
        version: PLATFORM_VERSION,
        description: definition.description,
        logger: logger.child({ component: 'nats-transport' }),
      }),
    },
    { inheritAppConfig: true },
  );
  await app.init(); // module init (streams, migrations) before any handler starts consuming
  await app.startAllMicroservices();
  await app.listen(port, host);
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://${host}:${address.port}`;
  logger.info('ready', { url, version: PLATFORM_VERSION, namespace: config.MAAS_NAMESPACE, nats: config.NATS_URL });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      logger.info('shutting down');
      await app.close();
      await stopTelemetry();
      logger.info('stopped');
    })();
    return stopping;
  };
  return { app, url, stop };
}

/** main.ts of every service: run it, stop cleanly on SIGTERM/SIGINT, exit non-zero on failure. */
export function main(
  definition: ServiceDefinition,
  module: Type<unknown>,
  configure?: (app: INestApplication) => void | Promise<void>,
): void {
  runService(definition, module, configure)
    .then((running) => {
      const onSignal = (signal: string) => {
        running.stop().then(
          () => process.exit(0),
          (err) => {
            process.stderr.write(`${definition.name}: shutdown failed after ${signal}: ${(err as Error).message}\n`);
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => onSignal('SIGTERM'));
      process.once('SIGINT', () => onSignal('SIGINT'));
    })
    .catch((err: Error) => {
      process.stderr.write(
        `${JSON.stringify({ ts: new Date().toISOString(), level: 'error', service: definition.name, msg: 'failed to start', error: err.message })}\n`,
      );
      process.exit(1);
    });
}
