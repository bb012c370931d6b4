import { randomUUID } from 'node:crypto';
import type { MessageTypes } from '@maas/contracts';

const now = () => new Date().toISOString();

/** A valid example of every event, for tests that need one (overrides merged on top). */
export const factory = {
  workerRegistered: (o: Partial<MessageTypes['worker.registered']> = {}): MessageTypes['worker.registered'] => ({
    workerId: `w-${randomUUID().slice(0, 8)}`,
    url: 'http://127.0.0.1:9',
    hardware: 'cpu',
    capacity: 4,
    vmId: 'vm-test',
    runtime: { kind: 'sim-engine' },
    models: [{ id: 'Qwen/Qwen2.5-3B-Instruct', capabilities: ['chat', 'completion'] }],
    sentAt: now(),
    ...o,
  }),
  workerHeartbeat: (o: Partial<MessageTypes['worker.heartbeat']> = {}): MessageTypes['worker.heartbeat'] => ({
    workerId: 'w-test',
    state: 'ready',
    load: { running: 1, waiting: 0, kvCacheUsage: 0.1 },
    sentAt: now(),
    ...o,
  }),
  workerDraining: (o: Partial<MessageTypes['worker.draining']> = {}): MessageTypes['worker.draining'] => ({
    workerId: 'w-test',
    inFlight: 0,
    sentAt: now(),
    ...o,
  }),
  workerDeregistered: (o: Partial<MessageTypes['worker.deregistered']> = {}): MessageTypes['worker.deregistered'] => ({
    workerId: 'w-test',
    reason: 'shutdown',
    sentAt: now(),
    ...o,
  }),
  keyRevoked: (o: Partial<MessageTypes['key.revoked']> = {}): MessageTypes['key.revoked'] => ({
    keyId: randomUUID(),
    prefix: 'abcdefgh',
    revokedAt: now(),
    ...o,
  }),
  requestCompleted: (o: Partial<MessageTypes['usage.request-completed']> = {}): MessageTypes['usage.request-completed'] => ({
    requestId: `req-${randomUUID()}`,
    keyId: 'key-test',
    userId: 'ada@example.org',
    model: 'Qwen/Qwen2.5-3B-Instruct',
    workerId: 'w-test',
    endpoint: 'chat.completions',
    kind: 'interactive',
    stream: false,
    status: 200,
    promptTokens: 12,
    completionTokens: 34,
    tokensCountedBy: 'runtime',
    ttftMs: 120,
    latencyMs: 900,
    startedAt: now(),
    finishedAt: now(),
    ...o,
  }),
  metricAggregated: (o: Partial<MessageTypes['metric.aggregated']> = {}): MessageTypes['metric.aggregated'] => ({
    model: 'Qwen/Qwen2.5-3B-Instruct',
    intervalStart: now(),
    intervalSeconds: 10,
    requestRate: 2.5,
    concurrency: 3,
    queueDepth: 0,
    readyWorkers: 1,
    ...o,
  }),
  forecastPublished: (o: Partial<MessageTypes['forecast.published']> = {}): MessageTypes['forecast.published'] => ({
    forecastId: randomUUID(),
    model: 'Qwen/Qwen2.5-3B-Instruct',
    issuedAt: now(),
    stepSeconds: 600,
    method: 'persistence',
    points: [{ at: now(), requestRate: 2, upper: 3 }],
    ...o,
  }),
  batchBacklogReported: (o: Partial<MessageTypes['batch.backlog-reported']> = {}): MessageTypes['batch.backlog-reported'] => ({
    reportedAt: now(),
    models: [
      {
        model: 'Qwen/Qwen2.5-3B-Instruct',
        requests: 120,
        inputTokens: 736_320,
        batches: 1,
        deadline: new Date(Date.now() + 86_400_000).toISOString(),
      },
    ],
    ...o,
  }),
};
