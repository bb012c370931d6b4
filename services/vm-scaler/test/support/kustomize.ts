import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

/** The YAML parser the Kubernetes client itself uses (its own dependency). */
const yaml = createRequire(require.resolve('@kubernetes/client-node'))('js-yaml') as {
  loadAll(text: string): unknown[];
  load(text: string): unknown;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: any;
};

export interface Built {
  /** The file each object came from, relative to the directory built. */
  readonly source: string;
  readonly object: K8sObject;
}

type Op = { op: 'add' | 'replace' | 'remove' | 'test'; path: string; value?: unknown };

/** Kinds that live outside namespaces: kustomize's namespace transformer leaves them alone. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'Node',
  'PersistentVolume',
  'StorageClass',
  'CustomResourceDefinition',
]);
/** The kustomization fields this build understands; any other is an error, not silently ignored. */
const FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'patches']);

/**
 * `kustomize build` for the features deploy/kubernetes uses: resources (files and directories),
 * namespace (objects and ServiceAccount subjects of bindings), and JSON 6902 patches with a
 * kind/name target. Duplicate objects, unknown fields and patches that match nothing are errors.
 */
export function kustomizeBuild(dir: string, root = dir): Built[] {
  const file = path.join(dir, 'kustomization.yaml');
  const k = yaml.load(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  const where = path.relative(root, file) || file;
  for (const field of Object.keys(k)) if (!FIELDS.has(field)) throw new Error(`${where}: field "${field}" is not supported by this build`);
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization')
    throw new Error(`${where}: not a kustomize.config.k8s.io/v1beta1 Kustomization`);
  let built: Built[] = [];
  for (const r of (k.resources as string[] | undefined) ?? []) {
    const p = path.resolve(dir, r);
    if (fs.statSync(p).isDirectory()) built.push(...kustomizeBuild(p, root));
    else {
      for (const doc of yaml.loadAll(fs.readFileSync(p, 'utf8'))) {
        if (doc === null || doc === undefined) continue;
        built.push({ source: path.relative(root, p), object: doc as K8sObject });
      }
    }
  }
  for (const patch of (k.patches as { target?: { kind?: string; name?: string }; patch?: string; path?: string }[] | undefined) ?? []) {
    if (!patch.target || typeof patch.patch !== 'string' || patch.path)
      throw new Error(`${where}: only inline JSON 6902 patches with a target are supported`);
    const ops = yaml.load(patch.patch) as Op[];
    const targets = built.filter(
      (b) =>
        (!patch.target!.kind || b.object.kind === patch.target!.kind) &&
        (!patch.target!.name || b.object.metadata.name === patch.target!.name),
    );
    if (targets.length === 0) throw new Error(`${where}: patch target ${JSON.stringify(patch.target)} matches nothing`);
    built = built.map((b) => (targets.includes(b) ? { ...b, object: applyJsonPatch(b.object, ops) } : b));
  }
  if (typeof k.namespace === 'string') {
    const ns = k.namespace;
    built = built.map((b) => {
      const o = structuredClone(b.object);
      if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = ns;
      if (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')
        for (const s of o.subjects ?? []) if (s.kind === 'ServiceAccount') s.namespace = ns;
      return { ...b, object: o };
    });
  }
  const seen = new Set<string>();
  for (const b of built) {
    const id = `${b.object.apiVersion} ${b.object.kind} ${b.object.metadata.namespace ?? ''}/${b.object.metadata.name}`;
    if (seen.has(id)) throw new Error(`${where}: ${id} appears twice`);
    seen.add(id);
  }
  return built;
}

/** RFC 6902 add, replace, remove and test. */
export function applyJsonPatch<T>(doc: T, ops: readonly Op[]): T {
  const out = structuredClone(doc) as unknown;
  for (const op of ops) {
    const keys = op.path
      .split('/')
      .slice(1)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop();
    if (last === undefined) throw new Error(`patch: path "${op.path}" names the whole document`);
    let parent = out as Record<string, unknown> | unknown[];
    for (const key of keys) {
      const next = (parent as Record<string, unknown>)[key];
      if (next === undefined || next === null || typeof next !== 'object')
        throw new Error(`patch: ${op.op} ${op.path}: "${key}" does not exist`);
      parent = next as Record<string, unknown>;
    }
    const container = parent as Record<string, unknown>;
    const exists = Array.isArray(parent) ? Number(last) < parent.length : last in container;
    switch (op.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
        else container[last] = op.value;
        break;
      case 'replace':
        if (!exists) throw new Error(`patch: replace ${op.path}: nothing there`);
        container[last] = op.value;
        break;
      case 'remove':
        if (!exists) throw new Error(`patch: remove ${op.path}: nothing there`);
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete container[last];
        break;
      case 'test':
        if (JSON.stringify(container[last]) !== JSON.stringify(op.value)) throw new Error(`patch: test ${op.path} failed`);
        break;
      default:
        throw new Error(`patch: op ${String((op as { op: unknown }).op)} is not supported`);
    }
  }
  return out as T;
}

export interface SchemaResult {
  /** The schema module it was checked against; null when neither package has one. */
  readonly schema: string | null;
  readonly errors: readonly string[];
}

/** Each object checked against the Kubernetes and Knative schemas of kubernetes-models (in an ES module child). */
export function validateObjects(objects: readonly unknown[]): SchemaResult[] {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'validate-kubernetes-objects.mjs')], {
    input: JSON.stringify(objects),
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out.toString('utf8')) as SchemaResult[];
}
