import type { Logger } from '@maas/logging';
import type { Clock } from '@maas/platform';
import type { CapacityListener, VmRecord, VmStartRequest } from '@maas/scaling';
import { MdxApi, MdxApiError, MdxVm } from './mdx-api';
import { NodeLedger, ScalerCapacityProvider } from './scaler-provider';

/** How to deploy more VMs of a pool from its catalogue template, when the pool has none left. */
export interface MdxDeploySpec {
  readonly catalog: string;
  readonly templateName: string;
  readonly packType: 'gpu' | 'cpu';
  readonly packNum: number;
  readonly diskSize: number;
  readonly storageNetwork: 'sr-iov' | 'pvrdma' | 'portgroup';
  /** SSH public key put on the VM. */
  readonly sharedKey: string;
  readonly networkAdapters: readonly unknown[];
  /** Most VMs the provider deploys for this pool; they stay deployed (powered off) for the next peak. */
  readonly max: number;
}

/** The deployed, powered-off VMs of one VM type; their template runs a worker of `model`. */
export interface MdxPool {
  readonly vmType: string;
  readonly model: string;
  readonly vms: readonly string[];
  /** Absent: the pool is only `vms`. */
  readonly deploy?: MdxDeploySpec;
}

/** VMs the provider deployed for a pool are named `maas-<vmType>-<suffix>`: a later vm-scaler finds them by that. */
export const deployedName = (vmType: string, suffix: string) => `maas-${vmType}-${suffix}`;
const isDeployedFor = (vmType: string, vm: MdxVm) => vm.name.startsWith(deployedName(vmType, ''));

export interface MdxProviderOptions {
  readonly projectId: string;
  readonly pools: readonly MdxPool[];
  /** power_on's `service_level` ("spot" is the public client's default). */
  readonly serviceLevel: string;
  /** First status poll after a change; unchanged statuses are polled less and less often, up to 8×. */
  readonly pollMs: number;
  /** From power_on until a worker registers ready; past it the boot failed and the VM is powered off. */
  readonly bootTimeoutMs: number;
  /** From a stop until PowerOFF; past it the VM is powered off by force. */
  readonly stopGraceMs: number;
  /** A VM whose boot failed is not powered on again for this long. */
  readonly failedVmHoldMs: number;
}

interface Watch {
  status?: string;
  poweredOnAt?: number;
  nextPollAt: number;
  intervalMs: number;
  /** When a stopping VM is powered off if still on. */
  forceOffAt?: number;
  forcedOff?: boolean;
}

const MAX_BACKOFF = 8;
/** How long a deployed VM may take to show in the project listing. */
const DEPLOY_LISTING_TIMEOUT_MS = 60_000;

/**
 * Nodes are the VMs of configured pools in one mdx project. Start powers on a PowerOFF VM of the
 * type's pool (VMs whose boot failed recently last), and deploys one from the pool's template only
 * when none is left and the pool says so; its template starts `maas worker --launch …`,
 * and the node is ready when that worker registers ready. Drain is a guest shutdown: the template's
 * unit stops the worker with SIGTERM, it drains and exits, and the VM powers off. A boot that does
 * not end in a ready worker within the boot timeout is recorded failed and the VM powered off;
 * the loop then starts another. VMs outlive the scaler: PowerON pool VMs are adopted at start.
 */
export class MdxCapacityProvider implements ScalerCapacityProvider {
  readonly kind = 'mdx' as const;
  readonly hostsWorkers = true;
  private readonly ledger: NodeLedger;
  private readonly watches = new Map<string, Watch>();
  private readonly heldUntil = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private polling = false;
  private deploys = 0;
  /** VMs a start is powering on, not yet in the ledger: concurrent starts leave them to it. */
  private readonly claimed = new Set<string>();
  /** The project listing being fetched: callers that ask meanwhile share it. */
  private listingNow?: Promise<MdxVm[]>;

  constructor(
    private readonly api: MdxApi,
    private readonly options: MdxProviderOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.ledger = new NodeLedger('mdx', clock);
  }

  async open(): Promise<void> {
    const listing = await this.api.projectVms(this.options.projectId);
    const statuses = new Map(listing.map((vm) => [vm.uuid, vm.status]));
    for (const pool of this.options.pools) {
      for (const id of pool.vms) {
        if (!statuses.has(id))
          throw new Error(
            `mdx provider: VM ${id} of pool "${pool.vmType}" is not in project ${this.options.projectId} (SCALING_MDX_POOLS)`,
          );
      }
      for (const id of this.members(pool, listing)) {
        const status = statuses.get(id);
        if (status !== 'PowerON') continue;
        // its worker re-registers within its re-announcement interval and makes it ready again
        this.ledger.add(id, { vmType: pool.vmType, model: pool.model }, 'booting', 'adopted: PowerON when the vm-scaler started');
        this.watch(id, { status, poweredOnAt: this.clock.now() });
      }
    }
    this.timer = setInterval(() => void this.poll(), Math.max(100, Math.floor(this.options.pollMs / 2)));
    this.timer.unref();
  }

  /** The configured VMs of a pool, then those deployed for it (by name). */
  private members(pool: MdxPool, listing: readonly MdxVm[]): string[] {
    const deployed = pool.deploy
      ? listing.filter((vm) => isDeployedFor(pool.vmType, vm) && !pool.vms.includes(vm.uuid)).map((vm) => vm.uuid)
      : [];
    return [...pool.vms, ...deployed];
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
  }

  async list(): Promise<readonly VmRecord[]> {
    return this.ledger.list();
  }

  async state(vmId: string): Promise<VmRecord | undefined> {
    return this.ledger.get(vmId);
  }

  subscribe(listener: CapacityListener): () => void {
    return this.ledger.subscribe(listener);
  }

  async start(request: VmStartRequest): Promise<VmRecord> {
    // a pool VM's guest starts the workers its image names: nothing here can put them in the batch pool
    if (request.pool === 'batch')
      throw new Error('mdx provider: no batch pool: its VMs start the workers their image names (capacity.batchPool needs local or slurm)');
    const pool = this.options.pools.find((p) => p.vmType === request.vmType);
    if (!pool)
      throw new Error(
        `mdx provider: no pool for VM type "${request.vmType}" (SCALING_MDX_POOLS has ${this.options.pools.map((p) => p.vmType).join(', ')})`,
      );
    if (pool.model !== request.model) throw new Error(`mdx provider: pool "${pool.vmType}" runs ${pool.model}, not ${request.model}`);
    const listing = await this.listing();
    const statuses = new Map(listing.map((vm) => [vm.uuid, vm.status]));
    const members = this.members(pool, listing);
    const now = this.clock.now();
    const free = members.filter((id) => !this.ledger.get(id) && !this.claimed.has(id) && statuses.get(id) === 'PowerOFF');
    // VMs held after a failed boot come last, and only once their hold is over
    const ready = free
      .filter((id) => (this.heldUntil.get(id) ?? 0) <= now)
      .sort((a, b) => Number(this.heldUntil.has(a)) - Number(this.heldUntil.has(b)));
    for (const id of ready) {
      if (this.claimed.has(id) || this.ledger.get(id)) continue; // taken by a start that ran meanwhile
      this.claimed.add(id);
      try {
        await this.api.powerOn(id, this.options.serviceLevel);
        this.watch(id, { status: 'PowerOFF' });
        return this.ledger.add(id, request, 'booting', request.reason ?? `power_on ${id}`);
      } catch (err) {
        // another client took it, or it is in the middle of an operation: try the next one
        if (err instanceof MdxApiError && err.status === 400) {
          this.logger.warn('mdx power_on refused; trying the next VM of the pool', { vmId: id, error: err.message });
          continue;
        }
        throw err;
      } finally {
        this.claimed.delete(id);
      }
    }
    const deployed = members.length - pool.vms.length;
    if (pool.deploy && deployed < pool.deploy.max) return this.deployFor(pool, request);
    const held = free.filter((id) => !ready.includes(id));
    const summary = members
      .map(
        (id) =>
          `${id} ${this.ledger.get(id)?.state ?? statuses.get(id) ?? 'unknown'}${held.includes(id) ? ' (held after a failed boot)' : ''}`,
      )
      .join(', ');
    const deploy = pool.deploy ? `; ${deployed} of at most ${pool.deploy.max} deployed` : '';
    throw new Error(`mdx provider: no powered-off VM left in pool "${pool.vmType}": ${summary || 'none'}${deploy}`);
  }

  /** Deploys a VM from the pool's template, powered on at once; its id is learnt from the listing by name. */
  private async deployFor(pool: MdxPool, request: VmStartRequest): Promise<VmRecord> {
    const d = pool.deploy!;
    const name = deployedName(pool.vmType, (this.clock.now() + (this.deploys += 1)).toString(36));
    await this.api.deploy({
      catalog: d.catalog,
      template_name: d.templateName,
      vm_name: name,
      project: this.options.projectId,
      pack_type: d.packType,
      pack_num: d.packNum,
      disk_size: d.diskSize,
      os_type: 'Linux',
      power_on: true,
      shared_key: d.sharedKey,
      storage_network: d.storageNetwork,
      network_adapters: d.networkAdapters,
    });
    for (let waited = 0; ; waited += this.options.pollMs) {
      const vm = (await this.listing()).find((v) => v.name === name);
      if (vm) {
        this.watch(vm.uuid, { status: vm.status });
        return this.ledger.add(
          vm.uuid,
          request,
          'booting',
          `${request.reason ? `${request.reason}; ` : ''}deployed ${name} from template ${d.templateName}`,
        );
      }
      if (waited >= DEPLOY_LISTING_TIMEOUT_MS)
        throw new Error(
          `mdx provider: deployed ${name} (template ${d.templateName}) but it is not in project ${this.options.projectId} after ${DEPLOY_LISTING_TIMEOUT_MS / 1000} s`,
        );
      await new Promise((r) => setTimeout(r, this.options.pollMs));
    }
  }

  workerReady(vmId: string): void {
    const node = this.ledger.get(vmId);
    if (node?.state !== 'booting') return;
    this.heldUntil.delete(vmId);
    this.ledger.transition(vmId, 'ready', `worker registered ${Math.round(this.clock.now() / 1000 - node.requestedAt)} s after power_on`);
    this.watch(vmId, { status: 'PowerON' });
  }

  async drain(vmId: string, reason?: string): Promise<VmRecord> {
    const node = this.ledger.require(vmId);
    if (node.state === 'draining') return node;
    if (node.state !== 'ready') throw new Error(`mdx provider: ${vmId} is ${node.state}; only a ready node can drain`);
    // the guest's shutdown stops the worker's unit with SIGTERM: it drains, exits, and the VM powers off
    await this.api.shutdown(vmId);
    this.watch(vmId, {});
    return this.ledger.transition(vmId, 'draining', reason ?? null);
  }

  async stop(vmId: string, reason?: string): Promise<VmRecord> {
    const node = this.ledger.require(vmId);
    if (node.state === 'stopping') return node;
    const watch = this.watch(vmId, {});
    if (node.state === 'ready') await this.api.shutdown(vmId);
    else if (node.state !== 'draining') await this.forceOff(vmId, watch); // booting: no worker holds anything yet
    watch.forceOffAt = this.clock.now() + this.options.stopGraceMs;
    return this.ledger.transition(vmId, 'stopping', reason ?? null);
  }

  /**
   * Follows the status of every node in the ledger, each at its own backed-off pace, from one
   * listing of the project (a few pages) per round rather than one call per VM.
   */
  async poll(): Promise<void> {
    if (this.polling) return;
    const due = this.ledger.list().filter((node) => this.clock.now() >= (this.watches.get(node.id) ?? this.watch(node.id, {})).nextPollAt);
    if (due.length === 0) return;
    this.polling = true;
    try {
      let statuses: Map<string, string>;
      try {
        statuses = new Map((await this.listing()).map((vm) => [vm.uuid, vm.status]));
      } catch (err) {
        this.logger.warn('mdx VM statuses unavailable', { vms: due.length, error: (err as Error).message });
        for (const node of due) this.backOff(this.watches.get(node.id) ?? this.watch(node.id, {}), this.clock.now());
        return;
      }
      const now = this.clock.now();
      for (const listed of due) {
        // the ledger may have moved on while the listing was fetched
        const node = this.ledger.get(listed.id);
        const watch = node && this.watches.get(node.id);
        if (!node || !watch) continue;
        const status = statuses.get(node.id);
        if (status === undefined) {
          this.logger.warn('mdx VM status unavailable', {
            vmId: node.id,
            error: `not in the listing of project ${this.options.projectId}`,
          });
          this.backOff(watch, now);
          continue;
        }
        const changed = status !== watch.status;
        watch.status = status;
        if (changed) this.logger.info('mdx VM status', { vmId: node.id, status, nodeState: node.state });
        this.observe(node, watch, status, now);
        if (changed) {
          watch.intervalMs = this.options.pollMs;
          watch.nextPollAt = now + watch.intervalMs;
        } else this.backOff(watch, now);
      }
    } finally {
      this.polling = false;
    }
  }

  /** Every VM of the project; one listing at a time, shared by whoever asks while it is fetched. */
  private listing(): Promise<MdxVm[]> {
    this.listingNow ??= this.api.projectVms(this.options.projectId).finally(() => (this.listingNow = undefined));
    return this.listingNow;
  }

  private observe(node: VmRecord, watch: Watch, status: string, now: number): void {
    const since = (t: number) => `${Math.round((now - t) / 1000)} s`;
    switch (node.state) {
      case 'booting':
        if (status === 'PowerON' && watch.poweredOnAt === undefined) watch.poweredOnAt = now;
        if (status === 'PowerOFF' && watch.poweredOnAt !== undefined) {
          this.failedBoot(node.id, `VM went PowerOFF during boot, ${since(node.requestedAt * 1000)} after power_on`, watch);
        } else if (now - node.requestedAt * 1000 > this.options.bootTimeoutMs) {
          const how = watch.poweredOnAt === undefined ? `still ${status}` : `PowerON for ${since(watch.poweredOnAt)}`;
          this.failedBoot(
            node.id,
            `no worker registered ready within ${Math.round(this.options.bootTimeoutMs / 1000)} s of power_on (${how})`,
            watch,
          );
        }
        return;
      case 'ready':
        if (status !== 'PowerON') this.ended(node.id, 'failed', `VM is ${status} while its worker was serving`);
        return;
      case 'draining':
      case 'stopping':
        if (status === 'PowerOFF')
          this.ended(
            node.id,
            'stopped',
            watch.forcedOff ? 'VM powered off by force after the stop grace period' : 'VM shut down (PowerOFF)',
          );
        else if (node.state === 'stopping' && watch.forceOffAt !== undefined && now > watch.forceOffAt && !watch.forcedOff) {
          this.logger.warn('mdx VM still on after the stop grace period; powering it off', { vmId: node.id, status });
          void this.forceOff(node.id, watch).catch((err: Error) =>
            this.logger.warn('mdx power_off failed', { vmId: node.id, error: err.message }),
          );
        }
        return;
      default:
        return;
    }
  }

  /** Records the failed boot at once; the VM is powered off and held so that another is tried first. */
  private failedBoot(vmId: string, reason: string, watch: Watch): void {
    this.heldUntil.set(vmId, this.clock.now() + this.options.failedVmHoldMs);
    this.ended(vmId, 'failed', reason);
    if (watch.status !== 'PowerOFF' || watch.poweredOnAt === undefined) {
      void this.forceOff(vmId, watch).catch((err: Error) =>
        this.logger.warn('mdx power_off after a failed boot failed', { vmId, error: err.message }),
      );
    }
  }

  private async forceOff(vmId: string, watch: Watch): Promise<void> {
    watch.forcedOff = true;
    try {
      await this.api.powerOff(vmId);
    } catch (err) {
      // already PowerOFF (the power-on never took): nothing to switch off
      if (!(err instanceof MdxApiError && err.status === 400)) throw err;
    }
  }

  private ended(vmId: string, to: 'stopped' | 'failed', reason: string): void {
    this.watches.delete(vmId);
    this.ledger.transition(vmId, to, reason);
  }

  private watch(vmId: string, patch: Partial<Watch>): Watch {
    const now = this.clock.now();
    const w: Watch = { ...this.watches.get(vmId), nextPollAt: now, intervalMs: this.options.pollMs, ...patch };
    this.watches.set(vmId, w);
    return w;
  }

  private backOff(watch: Watch, now: number): void {
    watch.intervalMs = Math.min(this.options.pollMs * MAX_BACKOFF, Math.round(watch.intervalMs * 1.5));
    watch.nextPollAt = now + watch.intervalMs;
  }
}
