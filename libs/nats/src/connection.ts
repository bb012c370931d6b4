import { connect, NatsConnection } from 'nats';
import { Logger } from '@maas/logging';

/** Connects with unlimited reconnects and logs every status change of the connection. */
export async function connectNats(url: string, name: string, logger: Logger): Promise<NatsConnection> {
  const nc = await connect({
    servers: url,
    name,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
    // Capturing a stack per request costs measurable CPU on the gateway's path.
    noAsyncTraces: true,
  });
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'pingTimer') continue;
      const level = status.type === 'disconnect' || status.type === 'error' ? 'warn' : 'info';
      logger[level]('nats connection status', { status: status.type, data: String(status.data ?? '') });
    }
  })();
  return nc;
}
