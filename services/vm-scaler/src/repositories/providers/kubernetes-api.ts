import * as fs from 'node:fs';
import type * as K8s from '@kubernetes/client-node';
import { ConfigError } from '@maas/config';
import { MODEL_ANNOTATION, WORKER_LABEL, WORKER_LABEL_VALUE } from '../../policy/kubernetes-workload';

export const KNATIVE_MIN_SCALE = 'autoscaling.knative.dev/min-scale';
export const KNATIVE_MAX_SCALE = 'autoscaling.knative.dev/max-scale';
const KNATIVE = { group: 'serving.knative.dev', version: 'v1', plural: 'services' } as const;

export type WorkloadKind = 'Deployment' | 'KnativeService';

/** A model's worker workload as the cluster has it. */
export interface Workload {
  readonly kind: WorkloadKind;
  readonly name: string;
  /** From the `open-maas.io/model` annotation; null when the object carries none. */
  readonly model: string | null;
}

/** A Knative Service's scale bounds with the version they were read at. */
export interface KnativeScale {
  readonly resourceVersion: string;
  readonly minScale: number | null;
  readonly maxScale: number | null;
}

export interface ClusterNode {
  readonly name: string;
  readonly ready: boolean;
  readonly unschedulable: boolean;
}

export type NodeEvent = { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly node: ClusterNode };

/** The API server's answer to a call: its status code when it refused, so callers tell 404 and 409 apart. */
export class KubernetesApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const isStatus = (err: unknown, status: number): boolean => err instanceof KubernetesApiError && err.status === status;

type AnyObject = Record<string, unknown> & { metadata?: K8s.V1ObjectMeta };

function toNode(n: K8s.V1Node): ClusterNode {
  return {
    name: n.metadata?.name ?? '',
    ready: (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    unschedulable: n.spec?.unschedulable === true,
  };
}

function toWorkload(kind: WorkloadKind, o: { metadata?: K8s.V1ObjectMeta }): Workload {
  return { kind, name: o.metadata?.name ?? '', model: o.metadata?.annotations?.[MODEL_ANNOTATION] ?? null };
}

function scaleValue(v: string | undefined): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : null;
}

/**
 * Loaded when a kubernetes provider is built, not with the module: the client is an ES module
 * (required from CommonJS, Node ≥ 20.19) and the other providers need none of it.
 */
const client = (): typeof K8s => require('@kubernetes/client-node') as typeof K8s;

/**
 * The calls the kubernetes provider makes, through @kubernetes/client-node; errors become
 * KubernetesApiError with the API server's status and message.
 */
export class KubernetesApi {
  private readonly core: K8s.CoreV1Api;
  private readonly apps: K8s.AppsV1Api;
  private readonly custom: K8s.CustomObjectsApi;
  private readonly apis: K8s.ApisApi;
  private readonly watcher: K8s.Watch;
  private readonly mergePatch: ReturnType<typeof K8s.setHeaderOptions>;

  constructor(
    config: K8s.KubeConfig,
    readonly namespace: string,
  ) {
    const k8s = client();
    this.mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    this.core = config.makeApiClient(k8s.CoreV1Api);
    this.apps = config.makeApiClient(k8s.AppsV1Api);
    this.custom = config.makeApiClient(k8s.CustomObjectsApi);
    this.apis = config.makeApiClient(k8s.ApisApi);
    this.watcher = new k8s.Watch(config);
  }

  /** A kubeconfig file, else $KUBECONFIG, ~/.kube/config or the pod's service account. */
  static config(file: string | undefined): K8s.KubeConfig {
    const config = new (client().KubeConfig)();
    if (file) config.loadFromFile(file);
    else config.loadFromDefault();
    return config;
  }

  /**
   * The worker template file, checked: a Deployment or Knative Service named per model. JSON, not
   * YAML: the client's YAML loader turns objects into its typed models, which drop a Knative spec.
   */
  static workerTemplate(file: string | undefined): Record<string, unknown> | null {
    if (!file) return null;
    const key = 'SCALING_KUBERNETES_WORKER_TEMPLATE';
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`config: ${key} ${file} cannot be read as JSON: ${(err as Error).message}`);
    }
    const o = parsed as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } } | null;
    const kind = `${String(o?.apiVersion)} ${String(o?.kind)}`;
    if (kind !== 'apps/v1 Deployment' && kind !== 'serving.knative.dev/v1 Service')
      throw new ConfigError(`config: ${key} ${file} must be an apps/v1 Deployment or a serving.knative.dev/v1 Service, not ${kind}`);
    if (typeof o?.metadata?.name !== 'string' || !o.metadata.name.includes('{slug}'))
      throw new ConfigError(`config: ${key} ${file}: metadata.name must contain {slug}, one workload per model`);
    return o as Record<string, unknown>;
  }

  async knativeServing(): Promise<boolean> {
    const groups = await call('list API groups', () => this.apis.getAPIVersions());
    return groups.groups.some((g) => g.name === KNATIVE.group);
  }

  async workloads(knative: boolean): Promise<Workload[]> {
    const labelSelector = `${WORKER_LABEL}=${WORKER_LABEL_VALUE}`;
    const deployments = await call('list worker Deployments', () =>
      this.apps.listNamespacedDeployment({ namespace: this.namespace, labelSelector }),
    );
    const found = deployments.items.map((d) => toWorkload('Deployment', d));
    if (knative) {
      const services = (await call('list worker Knative Services', () =>
        this.custom.listNamespacedCustomObject({ ...KNATIVE, namespace: this.namespace, labelSelector }),
      )) as { items: AnyObject[] };
      found.push(...services.items.map((s) => toWorkload('KnativeService', s)));
    }
    return found;
  }

  /** Creates a Deployment or Knative Service; 409 when one of that name exists. */
  async create(object: AnyObject): Promise<Workload> {
    const name = object.metadata?.name ?? '';
    if (object.apiVersion === `${KNATIVE.group}/${KNATIVE.version}` && object.kind === 'Service') {
      const created = (await call(`create Knative Service ${name}`, () =>
        this.custom.createNamespacedCustomObject({ ...KNATIVE, namespace: this.namespace, body: object }),
      )) as AnyObject;
      return toWorkload('KnativeService', created);
    }
    if (object.apiVersion === 'apps/v1' && object.kind === 'Deployment') {
      const created = await call(`create Deployment ${name}`, () =>
        this.apps.createNamespacedDeployment({ namespace: this.namespace, body: object as K8s.V1Deployment }),
      );
      return toWorkload('Deployment', created);
    }
    throw new Error(
      `kubernetes provider: a worker template must be an apps/v1 Deployment or a serving.knative.dev/v1 Service, not ${String(object.apiVersion)} ${String(object.kind)}`,
    );
  }

  async workload(kind: WorkloadKind, name: string): Promise<Workload> {
    if (kind === 'KnativeService')
      return toWorkload(
        kind,
        (await call(`read Knative Service ${name}`, () =>
          this.custom.getNamespacedCustomObject({ ...KNATIVE, namespace: this.namespace, name }),
        )) as AnyObject,
      );
    return toWorkload(
      kind,
      await call(`read Deployment ${name}`, () => this.apps.readNamespacedDeployment({ namespace: this.namespace, name })),
    );
  }

  async deploymentScale(name: string): Promise<K8s.V1Scale> {
    return call(`read the scale of Deployment ${name}`, () => this.apps.readNamespacedDeploymentScale({ namespace: this.namespace, name }));
  }

  /** Replaces the scale; 409 when `scale` carries a resourceVersion that is no longer current. */
  async replaceDeploymentScale(name: string, scale: K8s.V1Scale): Promise<K8s.V1Scale> {
    return call(`scale Deployment ${name}`, () =>
      this.apps.replaceNamespacedDeploymentScale({ namespace: this.namespace, name, body: scale }),
    );
  }

  async knativeScale(name: string): Promise<KnativeScale> {
    const o = (await call(`read Knative Service ${name}`, () =>
      this.custom.getNamespacedCustomObject({ ...KNATIVE, namespace: this.namespace, name }),
    )) as AnyObject & {
      spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
    };
    const annotations = o.spec?.template?.metadata?.annotations ?? {};
    return {
      resourceVersion: o.metadata?.resourceVersion ?? '',
      minScale: scaleValue(annotations[KNATIVE_MIN_SCALE]),
      maxScale: scaleValue(annotations[KNATIVE_MAX_SCALE]),
    };
  }

  /** A merge patch of the revision template's scale bounds, conditional on `resourceVersion` (409 when stale). */
  async patchKnativeScale(name: string, resourceVersion: string, minScale: number, maxScale: number): Promise<void> {
    const body = {
      metadata: { resourceVersion },
      spec: { template: { metadata: { annotations: { [KNATIVE_MIN_SCALE]: String(minScale), [KNATIVE_MAX_SCALE]: String(maxScale) } } } },
    };
    await call(`patch the scale of Knative Service ${name}`, () =>
      this.custom.patchNamespacedCustomObject({ ...KNATIVE, namespace: this.namespace, name, body }, this.mergePatch),
    );
  }

  async nodes(): Promise<{ nodes: ClusterNode[]; resourceVersion: string }> {
    const list = await call('list nodes', () => this.core.listNode());
    return { nodes: list.items.map(toNode), resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  /** Node changes after `resourceVersion`; `done` is called once when the stream ends, with its error if any. */
  async watchNodes(resourceVersion: string, onEvent: (e: NodeEvent) => void, done: (err: unknown) => void): Promise<AbortController> {
    return this.watcher.watch(
      '/api/v1/nodes',
      { resourceVersion, allowWatchBookmarks: true },
      (type: string, object: K8s.V1Node & { code?: number; message?: string }) => {
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') onEvent({ type, node: toNode(object) });
        else if (type === 'ERROR')
          done(new KubernetesApiError(object.code ?? 500, `watch nodes: ${object.code ?? 500} ${object.message ?? 'error event'}`));
      },
      (err: unknown) => done(err ?? null),
    );
  }

  async cordon(node: string): Promise<void> {
    await call(`cordon node ${node}`, () => this.core.patchNode({ name: node, body: { spec: { unschedulable: true } } }, this.mergePatch));
  }

  async deleteNode(node: string): Promise<void> {
    await call(`delete node ${node}`, () => this.core.deleteNode({ name: node }));
  }

  /** Worker pods scheduled on `node`. */
  async workerPods(node: string): Promise<string[]> {
    const pods = await call(`list worker pods on ${node}`, () =>
      this.core.listNamespacedPod({
        namespace: this.namespace,
        labelSelector: `${WORKER_LABEL}=${WORKER_LABEL_VALUE}`,
        fieldSelector: `spec.nodeName=${node}`,
      }),
    );
    return pods.items.map((p) => p.metadata?.name ?? '').filter((n) => n !== '');
  }

  /** Deletes a pod with its own grace period: the worker gets SIGTERM and drains. */
  async deletePod(name: string): Promise<void> {
    await call(`delete pod ${name}`, () => this.core.deleteNamespacedPod({ namespace: this.namespace, name }));
  }
}

/** Runs one API call; a refusal becomes KubernetesApiError naming what was attempted and the server's reason. */
async function call<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    const e = err as { code?: unknown; body?: unknown; message?: string };
    if (typeof e.code === 'number' && e.code >= 400) {
      let reason = '';
      try {
        const body = (typeof e.body === 'string' ? JSON.parse(e.body) : e.body) as { message?: string } | undefined;
        reason = body?.message ?? '';
      } catch {
        reason = typeof e.body === 'string' ? e.body.slice(0, 200) : '';
      }
      throw new KubernetesApiError(e.code, `${what}: ${e.code}${reason ? ` ${reason}` : ''}`);
    }
    throw new Error(`${what}: ${e.message ?? String(err)}`);
  }
}
