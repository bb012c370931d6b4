import { randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import { StreamName, STREAMS, Subjects } from '@maas/contracts';

/** A subject namespace of its own for one test run, so runs sharing a NATS never see each other. */
export function testNamespace(): string {
  return `maas-t${randomBytes(4).toString('hex')}`;
}

export const testNatsUrl = (): string => process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export async function testNats(): Promise<NatsConnection> {
  return connect({ servers: testNatsUrl(), name: 'test' });
}

/** Deletes the JetStream streams of a test namespace. */
export async function deleteStreams(nc: NatsConnection, namespace: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const subjects = new Subjects(namespace);
  for (const s of Object.keys(STREAMS) as StreamName[]) {
    await jsm.streams.delete(subjects.stream(s)).catch(() => undefined);
  }
  // The namespace's KV buckets and object stores (`MessageBus.bucketName`) are streams too.
  const bucket = namespace.replace(/-/g, '_').toUpperCase();
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(`KV_${bucket}_`) || name.startsWith(`OBJ_${bucket}_`)) await jsm.streams.delete(name).catch(() => undefined);
  }
}
