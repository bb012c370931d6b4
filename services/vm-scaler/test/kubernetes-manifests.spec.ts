import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fromSeed } from 'nkeys.js';
import { connect, nkeyAuthenticator } from 'nats';
import { projectRoot } from '@maas/platform';
import { resolveScalingSpec } from '@maas/scaling';
import { renderWorkerTemplate } from '../src/policy/kubernetes-workload';
import { startService } from '@maas/testing';
import { Built, K8sObject, kustomizeBuild, validateObjects } from './support/kustomize';

const DEPLOY = path.join(projectRoot(), 'deploy', 'kubernetes');
const OVERLAYS = ['kubernetes', 'k0s-knative'] as const;
const SERVICES: Record<string, { port: number; database: boolean }> = {
  gateway: { port: 8080, database: false },
  auth: { port: 8081, database: true },
  'key-registry': { port: 8082, database: true },
  router: { port: 8083, database: true },
  'metrics-collector': { port: 8084, database: true },
  'vm-scaler': { port: 8085, database: true },
  forecaster: { port: 8086, database: false },
};
const NS = 'open-maas';
/** The options `maas worker --help` declares. */
const workerOptions = new Set(
  execFileSync(process.execPath, [path.join(projectRoot(), 'bin', 'maas.js'), 'worker', '--help'])
    .toString('utf8')
    .match(/--[a-z][a-z-]*/g),
);

/** The Secrets deploy/kubernetes/nats-credentials.js makes (outside the build: they hold seeds and keys). */
const credentialsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'k8s-nats-credentials-'));
const natsSecrets = (
  JSON.parse(
    execFileSync(process.execPath, [
      path.join(DEPLOY, 'nats-credentials.js'),
      '--dir',
      credentialsDir,
      '--namespace',
      'open-maas',
    ]).toString('utf8'),
  ) as { items: K8sObject[] }
).items;
afterAll(() => fs.rmSync(credentialsDir, { recursive: true, force: true }));

const build = Object.fromEntries(OVERLAYS.map((o) => [o, kustomizeBuild(path.join(DEPLOY, 'overlays', o))])) as Record<
  (typeof OVERLAYS)[number],
  Built[]
>;
const find = (built: Built[], kind: string, name: string): K8sObject => {
  const b = built.find((x) => x.object.kind === kind && x.object.metadata.name === name);
  if (!b)
    throw new Error(`no ${kind} ${name} in the build (has ${built.map((x) => `${x.object.kind}/${x.object.metadata.name}`).join(', ')})`);
  return b.object;
};
const workerTemplate = (built: Built[]) =>
  JSON.parse(find(built, 'ConfigMap', 'open-maas-worker-template').data['worker-template.json']) as Record<string, unknown>;
const scalingSpec = (built: Built[]) => {
  const r = resolveScalingSpec(JSON.parse(find(built, 'ConfigMap', 'open-maas-scaling').data['spec.json']));
  if (!r.ok) throw new Error(r.error);
  return r.spec;
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
/** Every pod spec of a workload: Deployments and StatefulSets, and a Knative Service's revision template. */
const podSpecOf = (o: K8sObject): Any =>
  o.kind === 'Service' && o.apiVersion.startsWith('serving.knative.dev') ? o.spec.template.spec : o.spec?.template?.spec;

describe.each(OVERLAYS)('deploy/kubernetes/overlays/%s', (overlay) => {
  const built = build[overlay];
  const objects = built.map((b) => b.object);
  const rendered = () => {
    const spec = scalingSpec(built);
    return Object.keys(spec.models).map((model) => renderWorkerTemplate(workerTemplate(built), model, NS) as K8sObject);
  };

  it('validates every object, and the worker rendered for each model, against the Kubernetes and Knative schemas; only the ServiceMonitor has none there', () => {
    const all = [...objects, ...rendered()];
    const results = validateObjects(all);
    const invalid = results.map((r, i) => ({ ...r, object: `${all[i].kind}/${all[i].metadata.name}` })).filter((r) => r.errors.length > 0);
    expect(invalid).toEqual([]);
    const unchecked = [...new Set(results.flatMap((r, i) => (r.schema === null ? [`${all[i].apiVersion} ${all[i].kind}`] : [])))];
    expect(unchecked).toEqual(['monitoring.coreos.com/v1 ServiceMonitor']);
    const schemas = new Set(results.map((r) => r.schema));
    expect(schemas).toContain('kubernetes-models/apps/v1/Deployment');
    expect(schemas).toContain('kubernetes-models/apps/v1/StatefulSet');
    if (overlay === 'k0s-knative') expect(schemas).toContain('@kubernetes-models/knative/serving.knative.dev/v1/Service');
  });

  it('puts everything namespaced into one namespace, which it creates', () => {
    expect(find(built, 'Namespace', NS)).toBeDefined();
    for (const o of objects)
      if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind))
        expect(`${o.kind}/${o.metadata.name} ${o.metadata.namespace}`).toBe(`${o.kind}/${o.metadata.name} ${NS}`);
  });

  it('runs all seven services, each with its port, health probes and a Service; the database ones read the external PostgreSQL secret', () => {
    for (const [name, s] of Object.entries(SERVICES)) {
      const d = find(built, 'Deployment', name);
      const c = d.spec.template.spec.containers[0];
      const port = `${name.toUpperCase().replace(/-/g, '_')}_PORT`;
      expect({ name, port: c.env.find((e: Any) => e.name === port)?.value }).toEqual({ name, port: String(s.port) });
      expect(c.ports).toEqual([{ name: 'http', containerPort: s.port }]);
      expect(c.readinessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
      expect(d.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': name });
      expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
      const svc = find(built, 'Service', name);
      expect(svc.spec.selector).toEqual(d.spec.selector.matchLabels);
      expect(svc.spec.ports[0]).toMatchObject({ name: 'http', port: s.port, targetPort: 'http' });
      const db = c.env.find((e: Any) => e.name === 'DATABASE_URL');
      if (s.database)
        expect({ name, db }).toEqual({
          name,
          db: { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'open-maas-postgres', key: 'DATABASE_URL' } } },
        });
      else expect({ name, db }).toEqual({ name, db: undefined });
    }
    const secret = find(built, 'Secret', 'open-maas-postgres');
    expect(new URL(secret.stringData.DATABASE_URL).hostname).not.toMatch(/^(127\.|localhost$|postgres$)/);
  });

  it('points nothing at the loopback address, and every ConfigMap, Secret and ServiceAccount named is in the build', () => {
    const text = JSON.stringify([...objects, ...rendered()]);
    expect(text).not.toMatch(/127\.0\.0\.1|localhost/);
    const known = [...objects, ...natsSecrets];
    const has = (kind: string, name: string) => known.some((o) => o.kind === kind && o.metadata.name === name);
    const missing: string[] = [];
    const visit = (v: Any, where: string) => {
      if (!v || typeof v !== 'object') return;
      if (v.configMapRef?.name && !has('ConfigMap', v.configMapRef.name)) missing.push(`${where}: ConfigMap ${v.configMapRef.name}`);
      if (v.secretRef?.name && !has('Secret', v.secretRef.name)) missing.push(`${where}: Secret ${v.secretRef.name}`);
      if (v.secretKeyRef?.name && !has('Secret', v.secretKeyRef.name)) missing.push(`${where}: Secret ${v.secretKeyRef.name}`);
      if (v.configMapKeyRef?.name && !has('ConfigMap', v.configMapKeyRef.name))
        missing.push(`${where}: ConfigMap ${v.configMapKeyRef.name}`);
      if (v.configMap?.name && !has('ConfigMap', v.configMap.name)) missing.push(`${where}: ConfigMap ${v.configMap.name}`);
      if (typeof v.serviceAccountName === 'string' && !has('ServiceAccount', v.serviceAccountName))
        missing.push(`${where}: ServiceAccount ${v.serviceAccountName}`);
      if (typeof v.secret?.secretName === 'string') {
        const secret = known.find((o) => o.kind === 'Secret' && o.metadata.name === v.secret.secretName);
        if (!secret) missing.push(`${where}: Secret ${v.secret.secretName}`);
        for (const item of v.secret.items ?? [])
          if (secret && !(item.key in secret.stringData)) missing.push(`${where}: key ${item.key} of Secret ${v.secret.secretName}`);
      }
      for (const x of Object.values(v)) visit(x, where);
    };
    for (const o of [...objects, ...rendered()]) visit(o, `${o.kind}/${o.metadata.name}`);
    expect(missing).toEqual([]);
    // a secret key read must be a key the secret has
    for (const o of [...objects, ...rendered()]) {
      const refs = JSON.stringify(o).match(/"secretKeyRef":\{"name":"[^"]+","key":"[^"]+"\}/g) ?? [];
      for (const ref of refs) {
        const { name, key } = JSON.parse(ref.slice('"secretKeyRef":'.length));
        expect(`${name}.${key} ${key in find(built, 'Secret', name).stringData}`).toBe(`${name}.${key} true`);
      }
    }
  });

  it('runs NATS as a three-server cluster with JetStream on persistent volumes, routed through its headless Service', () => {
    const sts = find(built, 'StatefulSet', 'nats');
    expect(sts.spec.replicas).toBe(3);
    const headless = find(built, 'Service', sts.spec.serviceName);
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    const conf: string = find(built, 'ConfigMap', 'nats-config').data['nats.conf'];
    expect(conf).toMatch(/jetstream \{\s+store_dir: \/data/);
    expect(conf).toMatch(/server_name: \$POD_NAME/);
    // routes from the Secret: each server through the headless Service, over mutual TLS with the route password
    expect(conf).toMatch(/^include \.\.\/secret\/cluster\.conf$/m);
    const cluster = natsSecrets.find((x) => x.metadata.name === 'open-maas-nats-server')!.stringData['cluster.conf'] as string;
    const password = /password: "([A-Za-z0-9_-]{32})"/.exec(cluster)?.[1];
    expect(password).toBeDefined();
    const routes = [...cluster.matchAll(/nats-route:\/\/route:([^@]+)@([a-z0-9.-]+):6222/g)].map((m) => [m[1], m[2]]);
    expect(routes).toEqual([0, 1, 2].map((i) => [password, `${sts.metadata.name}-${i}.${sts.spec.serviceName}`]));
    expect(cluster).toMatch(/tls \{[^}]*verify: true/);
    expect(conf).not.toContain(password);
    expect(sts.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    expect(sts.spec.template.spec.containers[0].volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    expect(find(built, 'ConfigMap', 'open-maas').data.NATS_URL).toBe(`tls://${find(built, 'Service', 'nats').metadata.name}:4222`);
    expect(conf).toMatch(/^tls \{\n {2}cert_file: \/etc\/nats\/secret\/server\.pem$/m);
    expect(conf).toMatch(/^include \.\.\/secret\/authorization\.conf$/m);
    if (overlay === 'k0s-knative') expect(sts.spec.volumeClaimTemplates[0].spec.storageClassName).toBe('openebs-hostpath');
  });

  it('has a ServiceMonitor scraping /metrics on the http port of each of the seven Services (checked by structure: no schema for it here)', () => {
    const sm = find(built, 'ServiceMonitor', 'open-maas');
    const values: string[] = sm.spec.selector.matchExpressions.find((e: Any) => e.key === 'app.kubernetes.io/name').values;
    expect([...values].sort()).toEqual(Object.keys(SERVICES).sort());
    for (const name of values) {
      const svc = find(built, 'Service', name);
      expect(svc.metadata.labels?.['app.kubernetes.io/name']).toBe(name);
      for (const ep of sm.spec.endpoints) expect(svc.spec.ports.map((p: Any) => p.name)).toContain(ep.port);
    }
    expect(sm.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '10s' }]);
    expect(Object.keys(sm.spec).sort()).toEqual(['endpoints', 'jobLabel', 'selector']);
  });

  it('gives the vm-scaler the kubernetes provider, its worker template and spec, and RBAC for every call the provider makes', () => {
    const d = find(built, 'Deployment', 'vm-scaler');
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy.type).toBe('Recreate');
    const c = d.spec.template.spec.containers[0];
    const env = Object.fromEntries(c.env.filter((e: Any) => 'value' in e).map((e: Any) => [e.name, e.value]));
    expect(env).toMatchObject({ SCALING_PROVIDER: 'kubernetes', SCALING_KUBERNETES_NODES: 'mdx' });
    const mounted = (file: string) => {
      const mount = c.volumeMounts.find((m: Any) => file.startsWith(`${m.mountPath}/`));
      const volume = d.spec.template.spec.volumes.find((v: Any) => v.name === mount?.name);
      return find(built, 'ConfigMap', volume.configMap.name).data[path.basename(file)] as string;
    };
    expect(JSON.parse(mounted(env.SCALING_KUBERNETES_WORKER_TEMPLATE))).toEqual(workerTemplate(built));
    expect(resolveScalingSpec(JSON.parse(mounted(env.SCALING_SPEC_FILE))).ok).toBe(true);
    // the pools the mdx node provider powers on are the spec's VM types, each for a model of the spec
    const pools = JSON.parse(find(built, 'Secret', 'open-maas-mdx').stringData.SCALING_MDX_POOLS) as Record<string, { model: string }>;
    const spec = scalingSpec(built);
    expect(Object.keys(pools).sort()).toEqual(spec.capacity.vmTypes.map((t) => t.name).sort());
    for (const [vmType, pool] of Object.entries(pools))
      expect(spec.capacity.vmTypes.find((t) => t.name === vmType)!.slots[pool.model]).toBeGreaterThan(0);

    // what KubernetesApi calls, as (apiGroup, resource, verb)
    const calls = [
      ['', 'nodes', 'list'],
      ['', 'nodes', 'watch'],
      ['', 'nodes', 'patch'],
      ['', 'nodes', 'delete'],
      ['', 'pods', 'list'],
      ['', 'pods', 'delete'],
      ['apps', 'deployments', 'list'],
      ['apps', 'deployments', 'get'],
      ['apps', 'deployments', 'create'],
      ['apps', 'deployments/scale', 'get'],
      ['apps', 'deployments/scale', 'update'],
      ['serving.knative.dev', 'services', 'list'],
      ['serving.knative.dev', 'services', 'get'],
      ['serving.knative.dev', 'services', 'create'],
      ['serving.knative.dev', 'services', 'patch'],
    ];
    const sa = d.spec.template.spec.serviceAccountName;
    const grants = objects
      .filter(
        (o) =>
          (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') &&
          o.subjects.some((s: Any) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === NS),
      )
      .flatMap((b) => find(built, b.roleRef.kind, b.roleRef.name).rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]);
    const denied = calls.filter(
      ([group, resource, verb]) =>
        !grants.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb)),
    );
    expect(denied).toEqual([]);
  });

  it('has a worker template that the vm-scaler accepts: one workload per model, GPU requests, workers labelled and reporting their node', () => {
    const template = workerTemplate(built) as K8sObject;
    expect(String(template.metadata.name)).toContain('{slug}');
    for (const w of rendered()) {
      const pod = podSpecOf(w);
      const c = pod.containers[0];
      expect(c.resources.requests['nvidia.com/gpu']).toBe('1');
      expect(c.resources.limits['nvidia.com/gpu']).toBe('1');
      // the provider finds a node's worker pods by this label when it drains the node
      const podLabels = w.kind === 'Deployment' ? w.spec.template.metadata.labels : w.spec.template.metadata.labels;
      expect(podLabels['open-maas.io/component']).toBe('worker');
      expect(c.env).toContainEqual({ name: 'MAAS_VM_ID', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
      const model = (w.metadata as Any).annotations['open-maas.io/model'];
      expect(c.args.slice(0, 4)).toEqual(['--launch', 'vllm', '--model', model]);
      // the container's entrypoint is `maas worker`: every flag must be one it declares, each with its value
      const flags = c.args.filter((a: string) => a.startsWith('--'));
      expect(flags.filter((f: string) => !workerOptions.has(f))).toEqual([]);
      expect(c.args.filter((a: string, i: number) => !a.startsWith('--') && !c.args[i - 1]?.startsWith('--'))).toEqual([]);
      const advertised = c.args[c.args.indexOf('--advertise-url') + 1];
      if (overlay === 'k0s-knative') {
        // the gateway reaches the model through its Knative Service, so Knative sees every request
        expect(w.apiVersion).toBe('serving.knative.dev/v1');
        expect(advertised).toBe(`http://${w.metadata.name}.${NS}.svc.cluster.local`);
        expect(c.args).toContain('--runtime-key');
        expect(w.spec.template.metadata.annotations['autoscaling.knative.dev/min-scale']).toBe('0');
        expect(c.ports).toEqual([{ containerPort: Number(c.args[c.args.indexOf('--runtime-port') + 1]) }]);
      } else {
        expect(w.kind).toBe('Deployment');
        expect(advertised).toBe(`http://$(POD_IP):${c.args[c.args.indexOf('--runtime-port') + 1]}`);
        expect(c.env).toContainEqual({ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });
        expect(w.spec.replicas).toBe(0);
        expect(w.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': w.metadata.name });
        // the grace period covers the worker's own drain timeout (10m)
        expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(600);
      }
    }
  });
});

describe('the manifest checks themselves', () => {
  it('the schemas reject a broken object, and a Knative field in the wrong place', () => {
    const gateway = structuredClone(
      build.kubernetes.find((b) => b.object.kind === 'Deployment' && b.object.metadata.name === 'gateway')!.object,
    );
    gateway.spec.replicas = 'two';
    delete gateway.spec.selector;
    const ksvc = renderWorkerTemplate(
      JSON.parse(
        build['k0s-knative'].find((b) => b.object.metadata.name === 'open-maas-worker-template')!.object.data['worker-template.json'],
      ),
      'm',
      NS,
    ) as Any;
    ksvc.spec.template.spec.containers[0].ports = [{ containerPort: '8001' }];
    const [g, k] = validateObjects([gateway, ksvc]);
    expect(g.errors).toEqual(
      expect.arrayContaining(['data/spec must have required property selector', 'data/spec/replicas must be integer']),
    );
    expect(k.schema).toBe('@kubernetes-models/knative/serving.knative.dev/v1/Service');
    expect(k.errors.join('\n')).toMatch(/containerPort must be integer/);
  });

  it('the build refuses what it does not understand rather than ignoring it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kustomize-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\n');
      const write = (k: string) =>
        fs.writeFileSync(
          path.join(dir, 'kustomization.yaml'),
          `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n${k}`,
        );
      write('images:\n  - { name: x, newTag: "1" }\n');
      expect(() => kustomizeBuild(dir)).toThrow('field "images" is not supported');
      write('patches:\n  - target: { kind: ConfigMap, name: b }\n    patch: "[]"\n');
      expect(() => kustomizeBuild(dir)).toThrow('matches nothing');
      fs.writeFileSync(
        path.join(dir, 'kustomization.yaml'),
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml, a.yaml]\n',
      );
      expect(() => kustomizeBuild(dir)).toThrow('appears twice');
      fs.writeFileSync(
        path.join(dir, 'kustomization.yaml'),
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: x\nresources: [a.yaml]\npatches:\n  - target: { kind: ConfigMap }\n    patch: |-\n      - { op: add, path: /data, value: { k: v } }\n      - { op: replace, path: /data/k, value: w }\n',
      );
      expect(kustomizeBuild(dir).map((b) => b.object)).toEqual([
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'x' }, data: { k: 'w' } },
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** What a pod sees at a path: the file of its ConfigMap or Secret volume that is mounted there. */
function mountedFile(o: K8sObject, container: Any, file: string, sources: K8sObject[]): string {
  const mount = container.volumeMounts.find((m: Any) => file.startsWith(`${m.mountPath}/`));
  if (!mount) throw new Error(`${o.metadata.name}: nothing mounted at ${file}`);
  const volume = o.spec.template.spec.volumes.find((v: Any) => v.name === mount.name);
  const rel = file.slice(mount.mountPath.length + 1);
  const from = volume.secret
    ? sources.find((s) => s.kind === 'Secret' && s.metadata.name === volume.secret.secretName)
    : sources.find((s) => s.kind === 'ConfigMap' && s.metadata.name === volume.configMap.name);
  const item = (volume.secret ?? volume.configMap).items?.find((i: Any) => i.path === rel);
  const key = item ? item.key : rel;
  const text = from?.stringData?.[key] ?? from?.data?.[key];
  if (typeof text !== 'string') throw new Error(`${o.metadata.name}: ${file} is not in ${JSON.stringify(volume)}`);
  return text;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

describe('the NATS of deploy/kubernetes: three nats-servers with its config and the Secrets nats-credentials.js makes', () => {
  const built = build.kubernetes;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k8s-nats-'));
  const servers: ChildProcess[] = [];
  const ports: { client: number; monitor: number; cluster: number }[] = [];
  let port = 0;
  const secret = (name: string) => natsSecrets.find((s) => s.metadata.name === name)!;

  beforeAll(async () => {
    const sts = find(built, 'StatefulSet', 'nats');
    const c = sts.spec.template.spec.containers[0];
    const configFile = c.args[c.args.indexOf('--config') + 1] as string;
    for (let i = 0; i < sts.spec.replicas; i += 1)
      ports.push({ client: await freePort(), monitor: await freePort(), cluster: await freePort() });
    port = ports[0].client;
    for (let i = 0; i < ports.length; i += 1) {
      // pod i's files at the same places under its own root: config, secret and data volumes
      const root = (p: string) => path.join(dir, `nats-${i}`, p);
      for (const m of c.volumeMounts as { name: string; mountPath: string }[]) {
        fs.mkdirSync(root(m.mountPath), { recursive: true });
        const volume = sts.spec.template.spec.volumes.find((v: Any) => v.name === m.name);
        if (!volume) continue; // the data volume claim
        const from = volume.secret ? secret(volume.secret.secretName).stringData : find(built, 'ConfigMap', volume.configMap.name).data;
        for (const [key, text] of Object.entries(from as Record<string, string>))
          fs.writeFileSync(path.join(root(m.mountPath), key), text, { mode: 0o600 });
      }
      // one host plays three pods: only the listeners, the route addresses and absolute paths move
      const move = (file: string) =>
        fs.writeFileSync(
          file,
          fs
            .readFileSync(file, 'utf8')
            .replace(/^port: 4222$/m, `port: ${ports[i].client}`)
            .replace(/^http_port: 8222$/m, `http_port: ${ports[i].monitor}`)
            .replace(/^ {2}port: 6222$/m, `  port: ${ports[i].cluster}`)
            .replace(/@nats-(\d)\.nats-headless:6222/g, (_, j: string) => `@127.0.0.1:${ports[Number(j)].cluster}`)
            .replace(/(store_dir|cert_file|key_file|ca_file): \//g, `$1: ${path.join(dir, `nats-${i}`)}/`),
        );
      move(root(configFile));
      move(path.join(path.dirname(root(configFile)), '..', 'secret', 'cluster.conf'));
      const server = spawn('nats-server', ['--config', root(configFile)], {
        env: { ...process.env, POD_NAME: `nats-${i}` },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      servers.push(server);
      let log = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`nats-${i} not ready within 15 s:\n${log}`)), 15_000);
        server.stderr!.on('data', (chunk: Buffer) => {
          log += chunk.toString('utf8');
          if (log.includes('Server is ready')) {
            clearTimeout(timer);
            resolve();
          }
        });
        server.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`nats-${i} exited with ${code}:\n${log}`));
        });
      });
    }
    // the pods' readiness probe: JetStream is up once the three servers have elected a meta leader
    const probe = c.readinessProbe.httpGet.path as string;
    const deadline = Date.now() + 60_000;
    for (const p of ports) {
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${p.monitor}${probe}`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`nats on ${p.client}: ${probe} not ok within 60 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });

  afterAll(async () => {
    for (const server of servers) {
      if (server.exitCode !== null) continue;
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a client without an nkey, and one that does not trust its CA', async () => {
    const ca = path.join(dir, 'nats-0', 'etc/nats/secret/ca.pem');
    await expect(connect({ servers: `tls://127.0.0.1:${port}`, tls: { caFile: ca }, reconnect: false, timeout: 5000 })).rejects.toThrow(
      /Authorization Violation/i,
    );
    await expect(connect({ servers: `tls://127.0.0.1:${port}`, reconnect: false, timeout: 5000 })).rejects.toThrow();
  });

  it('takes routes only from a server with a certificate of its CA and the route password', async () => {
    const secretDir = path.join(dir, 'nats-0', 'etc/nats/secret');
    const password = /password: "([^"]+)"/.exec(fs.readFileSync(path.join(secretDir, 'cluster.conf'), 'utf8'))![1];
    const monitor = async (p: number, what: string) => (await fetch(`http://127.0.0.1:${p}/${what}`)).json() as Promise<Any>;
    const attempt = async (name: string, cluster: string) => {
      const own = { client: await freePort(), monitor: await freePort(), cluster: await freePort() };
      const file = path.join(dir, `${name}.conf`);
      fs.writeFileSync(
        file,
        [
          `server_name: ${name}`,
          `listen: 127.0.0.1:${own.client}`,
          `http: 127.0.0.1:${own.monitor}`,
          `cluster { name: open-maas, listen: 127.0.0.1:${own.cluster}, ${cluster}, routes: [${ports.map((p) => `"nats-route://ROUTE@127.0.0.1:${p.cluster}"`).join(', ')}] }`,
          '',
        ]
          .join('\n')
          .replace(/ROUTE/g, cluster.includes('tls') ? 'route:wrong-password' : `route:${password}`),
      );
      const server = spawn('nats-server', ['--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      server.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
      try {
        // it dials each server again and again: its log shows each attempt closed
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline && (log.match(/connection closed/g) ?? []).length < 3) await new Promise((r) => setTimeout(r, 200));
        const id = (await monitor(own.monitor, 'varz')).server_id as string;
        const joined = await Promise.all(
          ports.map(async (p) => ((await monitor(p.monitor, 'routez')).routes as { remote_id: string }[]).some((r) => r.remote_id === id)),
        );
        return {
          joined,
          ownRoutes: (await monitor(own.monitor, 'routez')).num_routes as number,
          tried: /connection closed/.test(log),
          log,
        };
      } finally {
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGTERM');
        await exited;
      }
    };
    // the CA's certificate, a wrong password
    const tls = `tls { cert_file: "${secretDir}/server.pem", key_file: "${secretDir}/server.key", ca_file: "${secretDir}/ca.pem", verify: true, timeout: 5 }`;
    const wrongPassword = await attempt('intruder-password', tls);
    expect({ joined: wrongPassword.joined, ownRoutes: wrongPassword.ownRoutes, tried: wrongPassword.tried }).toEqual({
      joined: [false, false, false],
      ownRoutes: 0,
      tried: true,
    });
    // the password, no certificate of the CA
    const noCertificate = await attempt('intruder-plain', 'no_advertise: true');
    expect({ joined: noCertificate.joined, ownRoutes: noCertificate.ownRoutes, tried: noCertificate.tried }).toEqual({
      joined: [false, false, false],
      ownRoutes: 0,
      tried: true,
    });
    // the three still route to each other (a route a loaded machine is slow to form or re-form is waited for, up to 15 s)
    const routes = () => Promise.all(ports.map(async (p) => (await monitor(p.monitor, 'routez')).num_routes as number));
    let counts = await routes();
    for (const deadline = Date.now() + 15_000; counts.some((n) => n < 2) && Date.now() < deadline; counts = await routes())
      await new Promise((r) => setTimeout(r, 200));
    expect(counts.map((n) => n >= 2)).toEqual([true, true, true]);
  }, 60_000);

  it('lets the forecaster, started as its Deployment configures it, connect with its own nkey and the CA, and become ready', async () => {
    const d = find(built, 'Deployment', 'forecaster');
    const c = d.spec.template.spec.containers[0];
    const config = find(built, 'ConfigMap', 'open-maas').data as Record<string, string>;
    const env: Record<string, string> = { ...config };
    for (const e of c.env as { name: string; value?: string }[]) if (e.value !== undefined) env[e.name] = e.value;
    // the files its volumes hold, where the environment names them
    const sources = [...built.map((b) => b.object), ...natsSecrets];
    for (const key of ['NATS_NKEY', 'NATS_CA']) {
      const file = path.join(dir, 'forecaster', path.basename(env[key]));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, mountedFile(d, c, env[key], sources), { mode: 0o600 });
      env[key] = file;
    }
    expect(env.NATS_URL).toBe('tls://nats:4222');
    const svc = await startService('forecaster', {
      ...env,
      NATS_URL: `tls://127.0.0.1:${port}`,
      FORECASTER_PORT: '0',
      HOST: '127.0.0.1',
      MAAS_NATS_INSECURE: '',
    });
    try {
      expect(svc.records().some((r) => r.level === 'error')).toBe(false);
      // its JetStream streams are placed by the clustered JetStream (read as the operators' identity)
      const seed = new TextEncoder().encode(fs.readFileSync(path.join(credentialsDir, 'credentials', 'cli-admin.nk'), 'utf8').trim());
      const nc = await connect({
        servers: ports.map((p) => `tls://127.0.0.1:${p.client}`),
        tls: { caFile: env.NATS_CA },
        authenticator: nkeyAuthenticator(seed),
        inboxPrefix: `_INBOX.${fromSeed(seed).getPublicKey()}`,
        reconnect: false,
      });
      try {
        const streams = await (await nc.jetstreamManager()).streams.list().next();
        expect(streams.length).toBeGreaterThan(0);
        for (const st of streams)
          expect({ stream: st.config.name, cluster: st.cluster?.name, leader: /^nats-[0-2]$/.test(st.cluster?.leader ?? '') }).toEqual({
            stream: st.config.name,
            cluster: 'open-maas',
            leader: true,
          });
      } finally {
        await nc.close();
      }
    } finally {
      await svc.stop();
    }
  });
});
