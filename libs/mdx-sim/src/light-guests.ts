import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, NatsConnection } from 'nats';
import { Subjects } from '@maas/contracts';
import type { Logger } from '@maas/logging';
import { MessageBus } from '@maas/nats';
import { RuntimeClient, RuntimeHealth, RuntimeModel, WorkerAgent } from '@maas/worker-agent';
import type { MdxSimVm } from './sim-config';
import type { GuestLauncher, GuestProcess } from './vm-fleet';

/**
 * Light guests: what a VM's template would run, without a process per worker. Each VM that reaches
 * PowerON hosts `workersPerVm` real `WorkerAgent`s (the class `maas worker` runs: same registration,
 * heartbeat, re-announcement after a reconnect, drain) on one NATS connection per VM, all in this
 * process, in front of one shared runtime. Requests the gateway routes to a worker arrive at a small
 * HTTP front (`<front>/w/<worker id>/v1/…`) that forwards them to the shared runtime and counts each
 * worker's requests in flight: that count is the load the worker's heartbeat reports. For fleets
 * whose workers cannot each have a process (a thousand on a small machine); what it stands in for
 * (one process and one runtime per worker) is said wherever its numbers are reported.
 */
export interface LightGuestsOptions {
  readonly natsUrl: string;
  readonly namespace: string;
  /** The shared runtime (an OpenAI-compatible server with `/health`), without /v1. */
  readonly runtimeUrl: string;
  readonly model: string;
  readonly workersPerVm: number;
  readonly capacity: number;
  readonly hardware: 'gpu' | 'cpu';
  readonly logger: Logger;
  readonly heartbeatMs?: number;
  readonly registerEveryMs?: number;
  readonly drainTimeoutMs?: number;
  /** Called when a VM's agents start and when its workers get their first routed request. */
  readonly onEvent?: (event: LightGuestEvent) => void;
}

export type LightGuestEvent =
  | { readonly kind: 'launched'; readonly vmId: string; readonly at: number }
  | { readonly kind: 'first-request'; readonly vmId: string; readonly workerId: string; readonly at: number }
  | { readonly kind: 'ended'; readonly vmId: string; readonly how: 'drained' | 'killed'; readonly at: number };

export interface LightGuests {
  readonly launch: GuestLauncher;
  /** The HTTP front the workers advertise. */
  readonly frontUrl: string;
  readonly counters: { launched: number; ended: number; routed: number; agents: number };
  close(): Promise<void>;
}

/** The shared runtime's health, read once per interval for every agent rather than once per agent. */
class SharedHealth {
  health: RuntimeHealth = 'loading';
  private readonly client: RuntimeClient;
  private readonly timer: NodeJS.Timeout;

  constructor(url: string, everyMs: number) {
    this.client = new RuntimeClient(url);
    const read = () => void this.client.health().then((h) => (this.health = h));
    read();
    this.timer = setInterval(read, everyMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/** One worker's view of the shared runtime: its health, the one model, and its own requests in flight as vLLM's gauges. */
class WorkerRuntimeView extends RuntimeClient {
  constructor(
    url: string,
    private readonly shared: SharedHealth,
    private readonly model: string,
    private readonly inFlight: () => number,
  ) {
    super(url);
  }

  override async models(): Promise<RuntimeModel[]> {
    return [{ id: this.model }];
  }

  override async health(): Promise<RuntimeHealth> {
    return this.shared.health;
  }

  override async metrics(): Promise<string> {
    return `vllm:num_requests_running ${this.inFlight()}\nvllm:num_requests_waiting 0\nvllm:kv_cache_usage_perc 0\n`;
  }
}

export async function startLightGuests(o: LightGuestsOptions): Promise<LightGuests> {
  const target = new URL(o.runtimeUrl);
  const shared = new SharedHealth(o.runtimeUrl, o.heartbeatMs ?? 1000);
  const inFlight = new Map<string, number>();
  const vmOfWorker = new Map<string, string>();
  const routedVms = new Set<string>();
  const counters = { launched: 0, ended: 0, routed: 0, agents: 0 };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const open = new Set<{ close: () => Promise<void> }>();

  const front = http.createServer((req, res) => {
    const m = /^\/w\/([^/]+)(\/.*)$/.exec(req.url ?? '');
    const workerId = m?.[1];
    const vmId = workerId ? vmOfWorker.get(workerId) : undefined;
    if (!m || !workerId || !vmId) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"no such worker"}}');
      return;
    }
    counters.routed += 1;
    if (!routedVms.has(vmId)) {
      routedVms.add(vmId);
      o.onEvent?.({ kind: 'first-request', vmId, workerId, at: Date.now() });
    }
    inFlight.set(workerId, (inFlight.get(workerId) ?? 0) + 1);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight.set(workerId, Math.max(0, (inFlight.get(workerId) ?? 1) - 1));
    };
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: m[2], method: req.method, headers: { ...req.headers, host: target.host }, agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        up.once('end', finish);
        up.once('error', finish);
      },
    );
    upstream.once('error', (err) => {
      finish();
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `shared runtime: ${err.message}` } }));
    });
    res.once('close', finish);
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(0, '127.0.0.1', () => resolve());
  });
  const frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  const subjects = new Subjects(o.namespace);

  const launch: GuestLauncher = (vm: MdxSimVm): GuestProcess => {
    counters.launched += 1;
    let resolveExit!: () => void;
    const exited = new Promise<void>((r) => (resolveExit = r));
    const agents: WorkerAgent[] = [];
    let nc: NatsConnection | undefined;
    let ending = false;
    const ids = Array.from({ length: o.workersPerVm }, (_, k) =>
      o.workersPerVm === 1 ? vm.id : `${vm.id}-w${String(k + 1).padStart(2, '0')}`,
    );
    const end = (how: 'drained' | 'killed') => {
      for (const id of ids) {
        vmOfWorker.delete(id);
        inFlight.delete(id);
      }
      routedVms.delete(vm.id);
      counters.ended += 1;
      counters.agents -= agents.length;
      open.delete(handle);
      o.onEvent?.({ kind: 'ended', vmId: vm.id, how, at: Date.now() });
      resolveExit();
    };
    const handle = {
      close: async () => {
        ending = true;
        await nc?.close().catch(() => undefined);
        end('killed');
      },
    };
    open.add(handle);
    o.onEvent?.({ kind: 'launched', vmId: vm.id, at: Date.now() });
    const started = (async () => {
      nc = await connect({ servers: o.natsUrl, name: `light-guest-${vm.id}`, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
      const bus = new MessageBus(nc, subjects);
      for (const workerId of ids) {
        vmOfWorker.set(workerId, vm.id);
        const a = new WorkerAgent({
          bus,
          logger: o.logger,
          runtime: new WorkerRuntimeView(`${frontUrl}/w/${workerId}`, shared, o.model, () => inFlight.get(workerId) ?? 0),
          workerId,
          advertiseUrl: `${frontUrl}/w/${workerId}`,
          vmId: vm.id,
          host: vm.name,
          hardware: o.hardware,
          capacity: o.capacity,
          runtimeKind: 'sim-engine',
          models: [{ id: o.model, capabilities: ['chat', 'completion'] }],
          heartbeatMs: o.heartbeatMs,
          registerEveryMs: o.registerEveryMs,
          drainTimeoutMs: o.drainTimeoutMs,
        });
        agents.push(a);
        counters.agents += 1;
      }
      await Promise.all(agents.map((a) => a.start()));
    })().catch((err: Error) => o.logger.warn('light guest could not start its workers', { vmId: vm.id, error: err.message }));

    return {
      pid: undefined,
      signal: (signal) => {
        if (ending) return;
        ending = true;
        if (signal === 'SIGKILL') {
          // the VM is switched off: its workers vanish without a goodbye
          void (async () => {
            await nc?.close().catch(() => undefined);
            await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
            end('killed');
          })();
          return;
        }
        // the template's unit stops the workers with SIGTERM: each drains, then says goodbye
        void (async () => {
          await started;
          await Promise.all(agents.map((a) => a.drain('shutdown').catch(() => undefined)));
          await nc?.close().catch(() => undefined);
          end('drained');
        })();
      },
      exited,
    };
  };

  return {
    launch,
    frontUrl,
    counters,
    async close() {
      shared.close();
      await Promise.all([...open].map((h) => h.close()));
      agent.destroy();
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}
