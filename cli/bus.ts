import { connect, NatsConnection } from 'nats';
import { Subjects } from '@maas/contracts';
import { loadConfig, platformConfigSpec } from '@maas/config';
import { MessageBus, natsConnectionOptions } from '@maas/nats';

/** The environment every command that speaks to the platform over NATS reads. */
export const BUS_ENVIRONMENT =
  'environment: NATS_URL (default nats://127.0.0.1:4222), MAAS_NAMESPACE (default maas), NATS_NKEY and NATS_CA (`maas credentials env cli-admin` prints them)';

/**
 * Runs `fn` with a bus on the configured NATS and closes it after; a command nobody answers becomes
 * one line naming the service that should have (`service`), not a bare timeout.
 */
export async function withBus<T>(service: string, fn: (bus: MessageBus) => Promise<T>): Promise<T> {
  const config = loadConfig(platformConfigSpec);
  let nc: NatsConnection;
  try {
    nc = await connect({ ...natsConnectionOptions(config.NATS_URL), name: `maas-cli-${service}`, timeout: 3000 });
  } catch (err) {
    throw new Error(`cannot reach NATS at ${config.NATS_URL}: ${(err as Error).message}`);
  }
  try {
    return await fn(new MessageBus(nc, new Subjects(config.MAAS_NAMESPACE)));
  } catch (err) {
    const message = (err as Error).message;
    if (/no responders|^503$|timeout/i.test(message)) {
      throw new Error(
        `${service} is not answering on NATS (namespace ${config.MAAS_NAMESPACE}): ${message === '503' ? 'no responders' : message}`,
      );
    }
    throw err;
  } finally {
    await nc.close();
  }
}
