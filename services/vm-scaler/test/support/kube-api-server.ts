import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A Kubernetes API server for the calls the kubernetes provider makes, over real HTTP: objects
 * carry resourceVersions from one counter, a create of an existing name is 409 AlreadyExists, a
 * write (PUT, merge PATCH) naming a stale resourceVersion is 409 Conflict, the scale subresource
 * shares its Deployment's version, lists honour label and field selectors, and a watch replays
 * the events after the resourceVersion it names and then streams new ones (ERROR 410 when that
 * version is older than the events kept). It serves HTTPS with a certificate made for it, and
 * requests need the bearer token of its kubeconfig.
 * Not simulated: controllers (no Deployment creates pods, nothing becomes Ready by itself),
 * graceful pod deletion (a deleted pod goes at once), strategic merge and JSON patches (415).
 */

type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
} & Record<string, unknown>;
type Meta = {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  uid?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
} & Record<string, unknown>;

interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export interface WatchEvent {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly type_: ResourceType;
  readonly object: Obj;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

const CORE: ResourceType[] = [
  { group: '', version: 'v1', resource: 'nodes', kind: 'Node', namespaced: false },
  { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true },
  { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', namespaced: true },
];
const KNATIVE: ResourceType = { group: 'serving.knative.dev', version: 'v1', resource: 'services', kind: 'Service', namespaced: true };

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const apiVersionOf = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);

/** RFC 7386: null removes, objects merge, everything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function matchesLabels(o: Obj, selector: string | null): boolean {
  if (!selector) return true;
  const labels = o.metadata.labels ?? {};
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return v === undefined ? k in labels : labels[k] === v;
  });
}

function matchesFields(o: Obj, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    const value = k
      .split('.')
      .reduce<unknown>((at, key) => (at && typeof at === 'object' ? (at as Record<string, unknown>)[key] : undefined), o);
    return String(value ?? '') === v;
  });
}

export class KubeApiServer {
  readonly token = randomUUID();
  readonly requests: RequestRecord[] = [];
  private server?: https.Server;
  private cert?: { key: string; cert: string };
  private readonly types: ResourceType[];
  private readonly objects = new Map<string, { type: ResourceType; object: Obj }>();
  private readonly events: WatchEvent[] = [];
  private readonly watchers = new Set<(e: WatchEvent) => void>();
  private rv = 100;
  /** Events older than this many are forgotten: a watch from before them is 410 Gone. */
  private readonly keepEvents: number;
  private hooks: ((method: string, path: string, search: URLSearchParams) => void)[] = [];

  constructor(options: { knative: boolean; keepEvents?: number }) {
    this.types = options.knative ? [...CORE, KNATIVE] : CORE;
    this.keepEvents = options.keepEvents ?? 1000;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.cert = selfSignedCertificate();
    this.server = https.createServer(this.cert, (req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A kubeconfig for this server, written under `dir`. */
  kubeconfig(dir: string): string {
    const file = path.join(dir, 'kubeconfig.json');
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'fake', cluster: { server: this.url, 'certificate-authority-data': Buffer.from(this.cert!.cert).toString('base64') } },
      ],
      users: [{ name: 'vm-scaler', user: { token: this.token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'vm-scaler', namespace: 'open-maas' } }],
      'current-context': 'fake',
    };
    fs.writeFileSync(file, JSON.stringify(config));
    return file;
  }

  /** Runs before each request is handled: where a test plays another client writing in between. */
  beforeRequest(hook: (method: string, path: string, search: URLSearchParams) => void): void {
    this.hooks.push(hook);
  }

  // ---- what other clients (kubelets, operators, controllers) do, through the same rules ----

  create(
    resource: string,
    object: Omit<Obj, 'metadata'> & { metadata: Partial<Meta> & { name: string } },
    group = this.groupOf(resource),
  ): Obj {
    const type = this.type(group, resource);
    const r = this.doCreate(type, (object.metadata.namespace as string | undefined) ?? '', clone(object) as Obj);
    if ('code' in r) throw new Error(String(r.message));
    return r as Obj;
  }

  get(resource: string, namespace: string, name: string, group = this.groupOf(resource)): Obj | undefined {
    const entry = this.objects.get(this.key(this.type(group, resource), namespace, name));
    return entry ? clone(entry.object) : undefined;
  }

  list(resource: string, group = this.groupOf(resource)): Obj[] {
    return [...this.objects.values()].filter((e) => e.type.resource === resource && e.type.group === group).map((e) => clone(e.object));
  }

  /** An unconditional update, as a controller's write that lands between another client's read and write. */
  update(resource: string, namespace: string, name: string, change: (o: Obj) => void, group = this.groupOf(resource)): Obj {
    const type = this.type(group, resource);
    const current = this.objects.get(this.key(type, namespace, name));
    if (!current) throw new Error(`no ${resource} ${namespace}/${name}`);
    const next = clone(current.object);
    change(next);
    return this.store(type, next, 'MODIFIED');
  }

  // ---- HTTP ----

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const send = (code: number, body: unknown) => {
      this.requests.push({ method: req.method ?? '', path: url.pathname, status: code });
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${this.token}`) return send(401, status(401, 'Unauthorized', 'Unauthorized'));
    for (const hook of this.hooks) hook(req.method ?? '', url.pathname, url.searchParams);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Obj | undefined;
    try {
      body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Obj) : undefined;
    } catch {
      return send(400, status(400, 'BadRequest', 'the body is not JSON'));
    }

    if (url.pathname === '/apis' && req.method === 'GET') {
      const groups = [...new Set(this.types.filter((t) => t.group).map((t) => t.group))].map((name) => {
        const version = this.types.find((t) => t.group === name)!.version;
        return {
          name,
          versions: [{ groupVersion: `${name}/${version}`, version }],
          preferredVersion: { groupVersion: `${name}/${version}`, version },
        };
      });
      return send(200, { kind: 'APIGroupList', apiVersion: 'v1', groups });
    }
    const m = url.pathname.match(/^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/);
    const type = m && this.types.find((t) => t.group === (m[2] ?? '') && t.version === (m[1] ?? m[3]) && t.resource === m[5]);
    if (!m || !type || type.namespaced !== (m[4] !== undefined))
      return send(404, status(404, 'NotFound', `the server could not find the requested resource (${req.method} ${url.pathname})`));
    const namespace = m[4] ?? '';
    const name = m[6];
    const sub = m[7];
    const key = name ? this.key(type, namespace, name) : '';
    const existing = name ? this.objects.get(key)?.object : undefined;
    const notFound = () => send(404, status(404, 'NotFound', `${type.resource}${type.group ? `.${type.group}` : ''} "${name}" not found`));
    const conflict = () =>
      send(
        409,
        status(
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${type.resource}${type.group ? `.${type.group}` : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        ),
      );

    if (sub !== undefined && !(sub === 'scale' && type.resource === 'deployments'))
      return send(404, status(404, 'NotFound', `no subresource ${sub}`));

    switch (req.method) {
      case 'GET': {
        if (!name) {
          const labels = url.searchParams.get('labelSelector');
          const fields = url.searchParams.get('fieldSelector');
          const watch = url.searchParams.get('watch');
          if (watch === 'true' || watch === '1')
            return this.watch(type, namespace, labels, fields, url.searchParams.get('resourceVersion'), req, res, url.pathname);
          const items = [...this.objects.values()]
            .filter((e) => e.type === type && (!type.namespaced || e.object.metadata.namespace === namespace))
            .map((e) => e.object)
            .filter((o) => matchesLabels(o, labels) && matchesFields(o, fields))
            .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
          return send(200, {
            kind: `${type.kind}List`,
            apiVersion: apiVersionOf(type),
            metadata: { resourceVersion: String(this.rv) },
            items,
          });
        }
        if (!existing) return notFound();
        return send(200, sub === 'scale' ? this.scaleOf(existing) : existing);
      }
      case 'POST': {
        if (name || !body) return send(405, status(405, 'MethodNotAllowed', 'POST to a collection only'));
        if (body.metadata?.namespace && body.metadata.namespace !== namespace)
          return send(400, status(400, 'BadRequest', 'the namespace of the object does not match the namespace of the request'));
        const r = this.doCreate(type, namespace, body);
        return 'code' in r ? send(r.code as number, r) : send(201, r);
      }
      case 'PUT': {
        if (!name || !body) return send(405, status(405, 'MethodNotAllowed', 'PUT to an object only'));
        if (!existing) return notFound();
        const rv = body.metadata?.resourceVersion;
        if (rv !== undefined && rv !== '' && rv !== existing.metadata.resourceVersion) return conflict();
        if (sub === 'scale') {
          const replicas = (body.spec as { replicas?: unknown } | undefined)?.replicas;
          if (!Number.isInteger(replicas) || (replicas as number) < 0)
            return send(422, status(422, 'Invalid', 'Scale.autoscaling "spec.replicas" must be a non-negative integer'));
          const next = clone(existing);
          next.spec = { ...next.spec, replicas };
          return send(200, this.scaleOf(this.store(type, next, 'MODIFIED')));
        }
        const next = {
          ...body,
          metadata: {
            ...body.metadata,
            name,
            namespace: existing.metadata.namespace,
            uid: existing.metadata.uid,
            creationTimestamp: existing.metadata.creationTimestamp,
          },
        } as Obj;
        return send(200, this.store(type, next, 'MODIFIED'));
      }
      case 'PATCH': {
        if (!name || !body || sub) return send(405, status(405, 'MethodNotAllowed', 'PATCH to an object only'));
        if (!existing) return notFound();
        if (req.headers['content-type'] !== 'application/merge-patch+json')
          return send(
            415,
            status(
              415,
              'UnsupportedMediaType',
              `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json (got ${req.headers['content-type']})`,
            ),
          );
        const rv = (body.metadata as Meta | undefined)?.resourceVersion;
        if (rv !== undefined && rv !== existing.metadata.resourceVersion) return conflict();
        const next = mergePatch(existing, body) as Obj;
        next.metadata = { ...next.metadata, name, uid: existing.metadata.uid, resourceVersion: existing.metadata.resourceVersion };
        return send(200, this.store(type, next, 'MODIFIED'));
      }
      case 'DELETE': {
        if (!name) return send(405, status(405, 'MethodNotAllowed', 'DELETE of an object only'));
        if (!existing) return notFound();
        this.objects.delete(key);
        this.rv += 1;
        const gone = { ...clone(existing), metadata: { ...existing.metadata, resourceVersion: String(this.rv) } };
        this.emit({ rv: this.rv, type: 'DELETED', type_: type, object: gone });
        return send(200, gone);
      }
      default:
        return send(405, status(405, 'MethodNotAllowed', `${req.method} not allowed`));
    }
  }

  private watch(
    type: ResourceType,
    namespace: string,
    labels: string | null,
    fields: string | null,
    from: string | null,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
  ): void {
    const since = from ? Number(from) : this.rv;
    const oldest = this.events.length ? this.events[0].rv : this.rv + 1;
    const expired = from !== null && since < oldest - 1;
    // an expired version is still a 200: the stream carries one ERROR event with the 410 and ends
    this.requests.push({ method: 'WATCH', path, status: expired ? 410 : 200 });
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const matches = (e: WatchEvent) =>
      e.type_ === type &&
      (!type.namespaced || e.object.metadata.namespace === namespace) &&
      matchesLabels(e.object, labels) &&
      matchesFields(e.object, fields);
    const write = (e: WatchEvent) => res.write(JSON.stringify({ type: e.type, object: e.object }) + '\n');
    if (expired) {
      res.end(
        JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${since} (${oldest - 1})`) }) + '\n',
      );
      return;
    }
    for (const e of this.events) if (e.rv > since && matches(e)) write(e);
    const listener = (e: WatchEvent) => {
      if (matches(e)) write(e);
    };
    this.watchers.add(listener);
    const end = () => this.watchers.delete(listener);
    req.on('close', end);
    res.on('close', end);
  }

  /** Ends every open watch, as an API server does at its timeout or on restart. */
  endWatches(): number {
    const n = this.watchers.size;
    this.watchers.clear();
    this.server?.closeAllConnections();
    return n;
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  private doCreate(type: ResourceType, namespace: string, body: Obj): Obj | Record<string, unknown> {
    const name = body.metadata?.name;
    if (!name) return status(422, 'Invalid', `${type.kind} "" is invalid: metadata.name: Required value`);
    if (body.kind !== type.kind || body.apiVersion !== apiVersionOf(type))
      return status(400, 'BadRequest', `the object is a ${body.apiVersion}/${body.kind}, not a ${apiVersionOf(type)}/${type.kind}`);
    if (this.objects.has(this.key(type, namespace, name)))
      return status(409, 'AlreadyExists', `${type.resource}${type.group ? `.${type.group}` : ''} "${name}" already exists`);
    const object = clone(body);
    object.metadata = {
      ...object.metadata,
      ...(type.namespaced ? { namespace } : {}),
      uid: randomUUID(),
      generation: 1,
      creationTimestamp: new Date().toISOString(),
    };
    delete object.metadata.resourceVersion;
    return this.store(type, object, 'ADDED');
  }

  private store(type: ResourceType, object: Obj, event: 'ADDED' | 'MODIFIED'): Obj {
    this.rv += 1;
    const key = this.key(type, object.metadata.namespace ?? '', object.metadata.name);
    const before = this.objects.get(key)?.object;
    const specChanged = before !== undefined && JSON.stringify(before.spec) !== JSON.stringify(object.spec);
    object.metadata = {
      ...object.metadata,
      resourceVersion: String(this.rv),
      generation: (before?.metadata.generation ?? 1) + (specChanged ? 1 : 0),
    };
    this.objects.set(key, { type, object: clone(object) });
    this.emit({ rv: this.rv, type: event, type_: type, object: clone(object) });
    return clone(object);
  }

  private emit(e: WatchEvent): void {
    this.events.push(e);
    if (this.events.length > this.keepEvents) this.events.splice(0, this.events.length - this.keepEvents);
    for (const w of this.watchers) w(e);
  }

  private scaleOf(d: Obj): Record<string, unknown> {
    const selector = (d.spec?.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {};
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: d.metadata.name,
        namespace: d.metadata.namespace,
        uid: d.metadata.uid,
        resourceVersion: d.metadata.resourceVersion,
        creationTimestamp: d.metadata.creationTimestamp,
      },
      spec: { replicas: (d.spec?.replicas as number | undefined) ?? 1 },
      status: {
        replicas: (d.status?.replicas as number | undefined) ?? 0,
        selector: Object.entries(selector)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      },
    };
  }

  private key(type: ResourceType, namespace: string, name: string): string {
    return `${type.group}/${type.resource}/${type.namespaced ? namespace : ''}/${name}`;
  }

  private groupOf(resource: string): string {
    return this.types.find((t) => t.resource === resource)!.group;
  }

  private type(group: string, resource: string): ResourceType {
    const t = this.types.find((x) => x.group === group && x.resource === resource);
    if (!t) throw new Error(`the fake API server does not serve ${group || 'core'}/${resource}`);
    return t;
  }
}

/** A certificate for 127.0.0.1, its own CA: what the kubeconfig trusts. */
function selfSignedCertificate(): { key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-api-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=kube-apiserver',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
