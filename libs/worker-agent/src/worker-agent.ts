import type { Capability, ServedModel, WorkerLoad, WorkerRegistered } from '@maas/contracts';
import type { Logger } from '@maas/logging';
import type { MessageBus } from '@maas/nats';
import { LoadReading, parseRuntimeLoad, workerLoad } from './runtime-load';
import { RuntimeClient, RuntimeModel } from './runtime-client';

export type WorkerRuntimeKind = WorkerRegistered['runtime']['kind'];
export type AgentState = 'starting' | 'ready' | 'unhealthy' | 'draining';

export interface WorkerAgentOptions {
  readonly bus: MessageBus;
  readonly logger: Logger;
  readonly runtime: RuntimeClient;
  readonly workerId: string;
  /** URL gateways use to reach the runtime (without /v1). */
  readonly advertiseUrl: string;
  readonly vmId: string;
  readonly host?: string;
  readonly hardware: 'gpu' | 'cpu';
  readonly capacity: number;
  /** Detected from `/metrics` when not given. */
  readonly runtimeKind?: WorkerRuntimeKind;
  readonly runtimeVersion?: string;
  /** Models to announce; when absent they are read from the runtime's `/v1/models`. */
  readonly models?: readonly ServedModel[];
  /** Capabilities of discovered models; else what the runtime declares; else guessed from the name. */
  readonly capabilities?: readonly Capability[];
  readonly heartbeatMs?: number;
  /** 'batch': started for a batch backlog (announced, so gateways keep interactive traffic off it); default interactive. */
  readonly pool?: 'interactive' | 'batch';
  readonly registerEveryMs?: number;
  /**
   * After NATS reconnects the agent re-announces itself at a uniformly random moment within this
   * many ms (default 1000), so a thousand workers do not all arrive in the same millisecond.
   */
  readonly reannounceSpreadMs?: number;
  /** Longest wait for in-flight requests when draining. */
  readonly drainTimeoutMs?: number;
  /** Wait when draining a runtime without load metrics. */
  readonly drainGraceMs?: number;
}

const EMBEDDING_NAME = /embed|bge-|\/bge|e5-|gte-|minilm/i;

/** Capabilities guessed from a model name when nobody said: embedding models by their usual names. */
export function guessCapabilities(model: string, defaults: readonly Capability[]): Capability[] {
  if (EMBEDDING_NAME.test(model)) return ['embedding'];
  return [...defaults];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs beside one runtime: announces it on NATS (models, capabilities, capacity, VM), reports its
 * load every heartbeat, re-announces itself periodically so a restarted router relearns it, and
 * drains on request. Only an outbound NATS connection is needed.
 */
export class WorkerAgent {
  private state: AgentState = 'starting';
  private everReady = false;
  private models: ServedModel[] = [];
  private kind: WorkerRuntimeKind;
  private lastReading?: LoadReading;
  private load: WorkerLoad = { running: 0, waiting: 0 };
  private heartbeatTimer?: NodeJS.Timeout;
  private registerTimer?: NodeJS.Timeout;
  private reannounceTimer?: NodeJS.Timeout;
  private ticking = false;
  private stopped = false;

  constructor(private readonly o: WorkerAgentOptions) {
    this.kind = o.runtimeKind ?? 'openai-compatible';
  }

  get currentState(): AgentState {
    return this.state;
  }

  /** Learns the models (waiting for the runtime if it must), registers, and starts reporting. */
  async start(): Promise<void> {
    this.models = this.o.models ? [...this.o.models] : this.served(await this.discover());
    await this.probe();
    this.register();
    this.heartbeatTimer = setInterval(() => void this.tick(), this.o.heartbeatMs ?? 1000);
    this.registerTimer = setInterval(() => this.register(), this.o.registerEveryMs ?? 10_000);
    void this.reannounceOnReconnect();
  }

  /** A router or gateway that lost this worker in an outage relearns it within the spread, not at the next periodic registration. */
  private async reannounceOnReconnect(): Promise<void> {
    for await (const status of this.o.bus.nc.status()) {
      if (this.stopped) return;
      if (status.type !== 'reconnect') continue;
      const delayMs = Math.floor(Math.random() * (this.o.reannounceSpreadMs ?? 1000));
      this.o.logger.info('nats reconnected; re-announcing', { workerId: this.o.workerId, delayMs });
      clearTimeout(this.reannounceTimer);
      this.reannounceTimer = setTimeout(() => this.register(), delayMs);
      this.reannounceTimer.unref();
    }
  }

  private async discover(): Promise<RuntimeModel[]> {
    let logged = false;
    for (;;) {
      if (this.stopped) throw new Error('stopped before the runtime listed its models');
      try {
        return await this.o.runtime.models();
      } catch (err) {
        if (!logged)
          this.o.logger.info('waiting for the runtime to list its models', { url: this.o.runtime.baseUrl, reason: (err as Error).message });
        logged = true;
        await sleep(500);
      }
    }
  }

  private served(models: RuntimeModel[]): ServedModel[] {
    const defaults = this.o.capabilities ?? ['chat', 'completion'];
    return models.map((m) => ({
      id: m.id,
      capabilities: this.o.capabilities
        ? [...this.o.capabilities]
        : m.capabilities
          ? [...m.capabilities]
          : guessCapabilities(m.id, defaults),
      ...(m.maxModelLen ? { maxContextTokens: m.maxModelLen } : {}),
    }));
  }

  registration(): WorkerRegistered {
    return {
      workerId: this.o.workerId,
      url: this.o.advertiseUrl,
      models: this.models,
      hardware: this.o.hardware,
      capacity: this.o.capacity,
      vmId: this.o.vmId,
      ...(this.o.host ? { host: this.o.host } : {}),
      runtime: { kind: this.kind, ...(this.o.runtimeVersion ? { version: this.o.runtimeVersion } : {}) },
      load: this.load,
      state: this.state,
      ...(this.o.pool === 'batch' ? { pool: 'batch' as const } : {}),
      sentAt: new Date().toISOString(),
    };
  }

  private register(): void {
    if (this.stopped || this.state === 'draining') return;
    this.o.bus.publish('worker.registered', this.registration());
  }

  /** Reads health and load; moves between starting, ready and unhealthy. */
  private async probe(): Promise<void> {
    const [health, metrics] = await Promise.all([this.o.runtime.health(), this.o.runtime.metrics()]);
    const reading = metrics === undefined ? undefined : parseRuntimeLoad(metrics, Date.now());
    if (reading) {
      this.load = workerLoad(reading, this.lastReading);
      this.lastReading = reading;
      if (!this.o.runtimeKind && this.kind === 'openai-compatible') this.kind = reading.family;
    }
    if (this.state === 'draining') return;
    const next: AgentState = health === 'ready' ? 'ready' : this.everReady ? 'unhealthy' : 'starting';
    if (next !== this.state) {
      this.o.logger.info('worker state', { workerId: this.o.workerId, from: this.state, to: next, runtimeHealth: health });
      const becameReady = next === 'ready';
      this.state = next;
      if (becameReady) {
        this.everReady = true;
        // Announce the new state at once, not at the next re-registration (start() registers itself).
        if (this.heartbeatTimer) this.register();
      }
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      await this.probe();
      this.o.bus.publish('worker.heartbeat', {
        workerId: this.o.workerId,
        state: this.state,
        load: this.load,
        sentAt: new Date().toISOString(),
      });
    } catch (err) {
      this.o.logger.warn('heartbeat failed', { error: (err as Error).message });
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Stops taking work: announces draining (gateways stop routing here), waits until the runtime
   * reports nothing running or waiting (bounded), then deregisters.
   */
  async drain(reason = 'shutdown'): Promise<{ waitedMs: number; leftRunning: number }> {
    const started = Date.now();
    if (this.state !== 'draining') {
      this.state = 'draining';
      clearInterval(this.registerTimer);
      const fresh = parseRuntimeLoad((await this.o.runtime.metrics()) ?? '');
      if (fresh) this.load = workerLoad(fresh, this.lastReading);
      this.o.bus.publish('worker.draining', {
        workerId: this.o.workerId,
        inFlight: this.load.running + this.load.waiting,
        reason,
        sentAt: new Date().toISOString(),
      });
      this.o.logger.info('draining', { workerId: this.o.workerId, running: this.load.running, waiting: this.load.waiting, reason });
    }
    const deadline = started + (this.o.drainTimeoutMs ?? 60_000);
    let left = 0;
    {
      // Let requests routed just before the draining event reach the runtime before trusting an idle reading.
      await sleep(Math.min(250, this.o.drainTimeoutMs ?? 250));
      for (;;) {
        const metrics = await this.o.runtime.metrics();
        const reading = metrics === undefined ? undefined : parseRuntimeLoad(metrics);
        if (!reading) {
          // No load metrics: a fixed grace is all we can do.
          await sleep(Math.max(0, Math.min(this.o.drainGraceMs ?? 2000, deadline - Date.now())));
          break;
        }
        left = reading.running + reading.waiting;
        this.load = workerLoad(reading, this.lastReading);
        if (left === 0 || Date.now() >= deadline) break;
        await sleep(200);
      }
    }
    await this.stop('shutdown');
    const waitedMs = Date.now() - started;
    this.o.logger.info('drained', { workerId: this.o.workerId, waitedMs, leftRunning: left });
    return { waitedMs, leftRunning: left };
  }

  /** Stops reporting and says goodbye (the router removes the worker at once). */
  async stop(reason: 'shutdown' | 'replaced' = 'shutdown'): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.registerTimer);
    clearTimeout(this.reannounceTimer);
    this.o.bus.publish('worker.deregistered', { workerId: this.o.workerId, reason, sentAt: new Date().toISOString() });
    await this.o.bus.nc.flush().catch(() => undefined);
  }
}
