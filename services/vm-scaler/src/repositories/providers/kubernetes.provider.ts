import type { Logger } from '@maas/logging';
import type { Clock } from '@maas/platform';
import type { CapacityEvent, CapacityListener, VmRecord, VmStartRequest } from '@maas/scaling';
import { knativeScaleBounds, renderWorkerTemplate } from '../../policy/kubernetes-workload';
import { ClusterNode, isStatus, KubernetesApi, NodeEvent, Workload } from './kubernetes-api';
import { NodeLedger, ScalerCapacityProvider } from './scaler-provider';

export interface KubernetesProviderOptions {
  /** The models of the scaling spec with their maximum replicas (Knative's max-scale). */
  readonly models: Readonly<Record<string, { readonly maxReplicas: number }>>;
  /** A Deployment or Knative Service with `{model}`/`{slug}` placeholders, created for a model that has no workload; null: never create. */
  readonly workerTemplate: Record<string, unknown> | null;
  /** Attempts at a write that keeps meeting a newer resourceVersion (409 Conflict). */
  readonly conflictRetries: number;
  /** Wait before watching nodes again after the stream ended. */
  readonly rewatchMs: number;
}

/**
 * Two stages on a Kubernetes cluster. Stage 1: a model's replicas are its worker Deployment's scale,
 * or, with Knative Serving, its Knative Service's min-scale (Knative follows concurrency above it).
 * Stage 2: nodes come from a VM provider (mdx VMs whose template joins the k0s cluster, their
 * Node named after the VM); a node is ready when its Node reports Ready or a worker on it
 * registers; draining cordons the Node and deletes the worker pods on it (each worker drains on
 * SIGTERM); stopping deletes the Node and stops the VM.
 */
export class KubernetesCapacityProvider implements ScalerCapacityProvider {
  readonly kind = 'kubernetes' as const;
  readonly hostsWorkers: boolean;
  private readonly ledger: NodeLedger;
  private readonly clusterNodes = new Map<string, ClusterNode>();
  private workloads = new Map<string, Workload>();
  private knative = false;
  private watch?: AbortController;
  /** Which watch is current: a stream that ended once (an ERROR event, then its close) is followed up once. */
  private watchGeneration = 0;
  private rewatch?: NodeJS.Timeout;
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly warned = new Set<string>();

  constructor(
    private readonly api: KubernetesApi,
    private readonly vms: ScalerCapacityProvider,
    private readonly options: KubernetesProviderOptions,
    clock: Clock,
    private readonly logger: Logger,
  ) {
    this.hostsWorkers = vms.hostsWorkers;
    this.ledger = new NodeLedger('kubernetes', clock);
    this.unsubscribe = vms.subscribe((e) => this.vmChanged(e));
  }

  async open(): Promise<void> {
    await this.vms.open();
    this.knative = await this.api.knativeServing();
    await this.discoverWorkloads();
    await this.watchNodes();
    this.logger.info('kubernetes provider open', {
      namespace: this.api.namespace,
      knative: this.knative,
      workloads: Object.fromEntries([...this.workloads].map(([model, w]) => [model, `${w.kind}/${w.name}`])),
      nodes: this.clusterNodes.size,
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.rewatch);
    this.watch?.abort();
    this.unsubscribe();
    await this.vms.close();
  }

  // ---- stage 1: replicas per model ----

  /** Sets each model's replicas; one model's failure is logged and does not keep the others from theirs. */
  async scaleReplicas(targets: Readonly<Record<string, number>>): Promise<void> {
    for (const [model, replicas] of Object.entries(targets)) {
      const spec = this.options.models[model];
      if (!spec) continue;
      try {
        const workload = await this.workloadOf(model);
        if (!workload) {
          this.warnOnce(`no-workload:${model}`, 'model has no worker workload in the cluster; its replicas are not set', { model });
          continue;
        }
        if (workload.kind === 'Deployment') await this.scaleDeployment(workload.name, replicas);
        else await this.scaleKnative(workload.name, knativeScaleBounds(replicas, spec.maxReplicas));
      } catch (err) {
        // a workload deleted behind our back is looked up (or created) again next time
        if (isStatus(err, 404)) this.workloads.delete(model);
        this.logger.warn('kubernetes replicas not set', { model, replicas, error: (err as Error).message });
      }
    }
  }

  private async scaleDeployment(name: string, replicas: number): Promise<void> {
    await this.retryConflicts(`Deployment ${name}`, async () => {
      const scale = await this.api.deploymentScale(name);
      const from = scale.spec?.replicas ?? 0;
      if (from === replicas) return;
      // the read's resourceVersion makes the write conditional: a writer in between gets us a 409
      await this.api.replaceDeploymentScale(name, { ...scale, spec: { ...scale.spec, replicas } });
      this.logger.info('kubernetes Deployment scaled', { deployment: name, from, to: replicas });
    });
  }

  private async scaleKnative(name: string, bounds: { minScale: number; maxScale: number }): Promise<void> {
    await this.retryConflicts(`Knative Service ${name}`, async () => {
      const current = await this.api.knativeScale(name);
      if (current.minScale === bounds.minScale && current.maxScale === bounds.maxScale) return;
      // every change makes a new revision: written only when the bounds differ
      await this.api.patchKnativeScale(name, current.resourceVersion, bounds.minScale, bounds.maxScale);
      this.logger.info('kubernetes Knative Service scale bounds set', {
        service: name,
        from: { min: current.minScale, max: current.maxScale },
        to: { min: bounds.minScale, max: bounds.maxScale },
      });
    });
  }

  /** Re-reads and re-writes while the server answers 409 Conflict (someone wrote in between). */
  private async retryConflicts(what: string, attempt: () => Promise<void>): Promise<void> {
    for (let n = 1; ; n += 1) {
      try {
        await attempt();
        return;
      } catch (err) {
        if (!isStatus(err, 409) || n >= this.options.conflictRetries) throw err;
        this.logger.info('kubernetes write met a newer version; reading it again', { object: what, attempt: n });
      }
    }
  }

  private async discoverWorkloads(): Promise<void> {
    const found = new Map<string, Workload>();
    for (const w of await this.api.workloads(this.knative)) {
      if (w.model === null) continue;
      const existing = found.get(w.model);
      // one model with both kinds (a Deployment left from before Knative): the Knative Service wins
      if (!existing || (w.kind === 'KnativeService' && existing.kind === 'Deployment')) found.set(w.model, w);
    }
    this.workloads = found;
    for (const model of Object.keys(this.options.models).sort())
      if (!found.has(model))
        await this.workloadOf(model).catch((err: Error) =>
          this.logger.warn('kubernetes worker workload not created', { model, error: err.message }),
        );
  }

  /** The model's workload; created from the worker template when it has none. */
  private async workloadOf(model: string): Promise<Workload | undefined> {
    const known = this.workloads.get(model);
    if (known) return known;
    if (!this.options.workerTemplate) return undefined;
    const object = renderWorkerTemplate(this.options.workerTemplate, model, this.api.namespace);
    if (object.kind === 'Service' && !this.knative)
      throw new Error('the worker template is a Knative Service but the cluster has no serving.knative.dev API');
    let workload: Workload;
    try {
      workload = await this.api.create(object);
      this.logger.info('kubernetes worker workload created', { model, kind: workload.kind, name: workload.name });
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
      // created in between (another vm-scaler, or an operator): adopt it if it serves this model
      const name = (object.metadata as { name: string }).name;
      workload = await this.api.workload(object.kind === 'Service' ? 'KnativeService' : 'Deployment', name);
      if (workload.model !== model) throw new Error(`${name} exists and serves ${workload.model ?? 'no annotated model'}, not ${model}`);
      this.logger.info('kubernetes worker workload adopted', { model, kind: workload.kind, name: workload.name });
    }
    this.workloads.set(model, workload);
    return workload;
  }

  // ---- stage 2: nodes through the VM provider ----

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
    // one workload per model: its pods are the interactive pool
    if (request.pool === 'batch')
      throw new Error('kubernetes provider: no batch pool: one workload per model (capacity.batchPool needs local or slurm)');
    const vm = await this.vms.start(request);
    return this.ledger.get(vm.id) ?? this.ledger.add(vm.id, request, vm.state, vm.reason);
  }

  workerReady(vmId: string): void {
    this.vms.workerReady(vmId);
  }

  async drain(vmId: string, reason?: string): Promise<VmRecord> {
    const node = this.ledger.require(vmId);
    if (node.state === 'draining') return node;
    if (node.state !== 'ready') throw new Error(`kubernetes provider: ${vmId} is ${node.state}; only a ready node can drain`);
    if (this.clusterNodes.has(vmId)) {
      await this.api.cordon(vmId);
      // each worker drains on SIGTERM within its pod's grace period; its Deployment places it elsewhere or leaves it pending
      for (const pod of await this.api.workerPods(vmId))
        await this.api.deletePod(pod).catch((err) => {
          if (!isStatus(err, 404)) throw err;
        });
    } else this.logger.warn('kubernetes node to drain is not in the cluster; nothing to cordon', { vmId });
    return this.ledger.transition(vmId, 'draining', reason ?? null);
  }

  async stop(vmId: string, reason?: string): Promise<VmRecord> {
    const node = this.ledger.require(vmId);
    if (node.state === 'stopping') return node;
    await this.api.deleteNode(vmId).catch((err) => {
      if (!isStatus(err, 404)) throw err;
    });
    await this.vms.stop(vmId, reason);
    return this.ledger.get(vmId) ?? node;
  }

  /** The VM provider's changes, as this provider's nodes; draining is ours (cordon), not the VM's. */
  private vmChanged(e: CapacityEvent): void {
    const node = this.ledger.get(e.vmId);
    if (!node) {
      if (e.to !== 'stopped' && e.to !== 'failed') this.ledger.add(e.vmId, { vmType: e.vmType, model: e.model }, e.to, e.reason);
      return;
    }
    if (e.to === 'draining' || (e.to === 'ready' && node.state === 'draining')) return;
    this.ledger.transition(e.vmId, e.to, e.reason);
    if (e.to === 'ready' && this.clusterNodes.get(e.vmId)?.ready === false)
      this.logger.info('kubernetes node not Ready yet while its VM is', { vmId: e.vmId });
  }

  private async watchNodes(): Promise<void> {
    const { nodes, resourceVersion } = await this.api.nodes();
    // a re-list is compared with what the last watch left: only what changed meanwhile is news
    const listed = new Set(nodes.map((n) => n.name));
    for (const [name, n] of this.clusterNodes) if (!listed.has(name)) this.nodeChanged({ type: 'DELETED', node: n });
    for (const n of nodes) this.nodeChanged({ type: this.clusterNodes.has(n.name) ? 'MODIFIED' : 'ADDED', node: n });
    const generation = (this.watchGeneration += 1);
    this.watch = await this.api.watchNodes(
      resourceVersion,
      (e) => {
        if (generation === this.watchGeneration) this.nodeChanged(e);
      },
      (err) => {
        if (generation !== this.watchGeneration) return;
        this.watchGeneration += 1;
        this.watch?.abort();
        this.watchEnded(err);
      },
    );
  }

  /** A watch ends (timeout, 410 Gone, connection lost): list again and watch from there. */
  private watchEnded(err: unknown): void {
    if (this.closed) return;
    if (err) this.logger.info('kubernetes node watch ended; listing again', { error: (err as Error).message ?? String(err) });
    this.rewatch = setTimeout(() => {
      this.watchNodes().catch((e: Error) => {
        this.logger.warn('kubernetes nodes unavailable', { error: e.message });
        this.watchEnded(null);
      });
    }, this.options.rewatchMs);
    this.rewatch.unref();
  }

  private nodeChanged(e: NodeEvent): void {
    const before = this.clusterNodes.get(e.node.name);
    if (e.type === 'DELETED') this.clusterNodes.delete(e.node.name);
    else this.clusterNodes.set(e.node.name, e.node);
    const ours = this.ledger.get(e.node.name);
    if (!ours) return;
    if (e.type === 'DELETED') {
      this.logger.info('kubernetes node left the cluster', { vmId: ours.id, state: ours.state });
      return;
    }
    if (e.node.ready && !before?.ready) {
      this.logger.info('kubernetes node Ready', { vmId: ours.id, state: ours.state });
      // the VM joined the cluster: its boot is over, whether or not a worker has been scheduled on it yet
      if (ours.state === 'booting') this.vms.workerReady(ours.id);
    }
  }

  private warnOnce(key: string, message: string, fields: Record<string, unknown>): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn(message, fields);
  }
}
