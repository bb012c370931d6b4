import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NatsConnection } from 'nats';
import { Subjects } from '@maas/contracts';
import { GuestLauncher, MdxSim, parseMdxSimConfig, startMdxSim } from '@maas/mdx-sim';
import { MessageBus } from '@maas/nats';
import {
  createTestDatabase,
  deleteStreams,
  factory,
  startService,
  StartedService,
  TestDatabase,
  testNamespace,
  testNats,
  testNatsUrl,
} from '@maas/testing';
import { KubeApiServer } from './support/kube-api-server';

const QWEN = 'Qwen/Qwen2.5-3B-Instruct';
const GPT = 'openai/gpt-oss-20b';
const NS = 'open-maas';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Short windows so that a ramp plays out in seconds; one replica (and one node) per 10 req/s. */
const spec = {
  replicas: { stableWindowSeconds: 3, panicWindowSeconds: 1, scaleToZeroGracePeriodSeconds: 1 },
  capacity: {
    vmTypes: [
      { name: 'gpu-qwen', accelerator: 'gpu', costPerHour: 2, bootSeconds: 1, slots: { [QWEN]: 1 }, maxCount: null },
      { name: 'gpu-gpt', accelerator: 'gpu', costPerHour: 2, bootSeconds: 1, slots: { [GPT]: 1 }, maxCount: null },
    ],
    maxVms: 10,
    bootMarginSeconds: 0,
    scaleDownDelaySeconds: 2,
    scaleDownHysteresis: 0,
    minDrainSeconds: 0.5,
  },
  models: {
    [QWEN]: { metric: 'rps', replicaRequestsPerSecond: 10, targetUtilization: 1, maxUtilization: 1, minReplicas: 0, maxReplicas: 6 },
    [GPT]: { metric: 'rps', replicaRequestsPerSecond: 10, targetUtilization: 1, maxUtilization: 1, minReplicas: 0, maxReplicas: 3 },
  },
};

const workerMeta = (name: string, model: string) => ({
  name,
  namespace: NS,
  labels: { 'open-maas.io/component': 'worker', app: name },
  annotations: { 'open-maas.io/model': model },
});
const deployment = (name: string, model: string, replicas: number) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: workerMeta(name, model),
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'worker', image: 'open-maas:test' }] } },
  },
});
const readyNode = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels: { 'open-maas.io/vm-type': 'gpu-qwen' } },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});

async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('vm-scaler with the kubernetes provider, against a Kubernetes API server', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vm-scaler-k8s-'));
  let db: TestDatabase;
  let nc: NatsConnection;
  let svc: StartedService | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('vmscalerk8s');
    nc = await testNats();
    fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(spec));
  });

  afterAll(async () => {
    await svc?.stop();
    await nc?.close();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = async (api: KubeApiServer, namespace: string, template: object, env: Record<string, string> = {}) => {
    fs.writeFileSync(path.join(dir, `${namespace}-template.json`), JSON.stringify(template));
    return startService('vm-scaler', {
      ...env,
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: namespace,
      DATABASE_URL: db.url,
      SCALING_PROVIDER: 'kubernetes',
      SCALING_KUBERNETES_NODES: env.SCALING_KUBERNETES_NODES ?? 'simulated',
      SCALING_KUBERNETES_KUBECONFIG: api.kubeconfig(dir),
      SCALING_KUBERNETES_NAMESPACE: NS,
      SCALING_KUBERNETES_WORKER_TEMPLATE: path.join(dir, `${namespace}-template.json`),
      SCALING_SIMULATED: JSON.stringify({ bootSeconds: { min: 0.5, max: 1 }, failureProbability: 0 }),
      SCALING_SPEC_FILE: env.SCALING_SPEC_FILE ?? path.join(dir, 'spec.json'),
      SCALING_TICK_MS: '300ms',
      SCALING_METRIC_MAX_AGE_MS: '3s',
    });
  };

  it('scales a Deployment per model through 409 conflicts, adopts a workload created concurrently, joins, cordons and removes nodes as they come and go', async () => {
    // the API server keeps few events: a watch from a version older than them is 410 Gone
    const api = await new KubeApiServer({ knative: false, keepEvents: 5 }).start();
    const namespace = testNamespace();
    const bus = new MessageBus(nc, new Subjects(namespace));
    try {
      api.create('deployments', deployment('maas-worker-qwen', QWEN, 1));
      // a node of the cluster that is none of ours: never cordoned, never deleted
      api.create('nodes', readyNode('control-plane-1'));
      // another vm-scaler creates the gpt-oss worker just before we do: our create meets 409 AlreadyExists
      let raced = false;
      api.beforeRequest((method, p) => {
        if (method === 'POST' && p.endsWith('/deployments') && !raced) {
          raced = true;
          api.create('deployments', deployment('maas-worker-openai-gpt-oss-20b', GPT, 0));
        }
      });
      // a controller writes the Qwen Deployment between our read of its scale and our write: 409 Conflict, read again
      let interfered = false;
      api.beforeRequest((method, p) => {
        if (method === 'PUT' && p.endsWith('/maas-worker-qwen/scale') && !interfered) {
          interfered = true;
          api.update('deployments', NS, 'maas-worker-qwen', (d) => {
            d.metadata.annotations = { ...d.metadata.annotations, 'deployment.kubernetes.io/revision': '2' };
          });
        }
      });
      const template = deployment('maas-worker-{slug}', '{model}', 0);
      svc = await run(api, namespace, template);
      const open = await svc.waitFor((r) => r.msg === 'kubernetes provider open', 20_000);
      expect(open).toMatchObject({
        knative: false,
        nodes: 1,
        workloads: { [QWEN]: 'Deployment/maas-worker-qwen', [GPT]: 'Deployment/maas-worker-openai-gpt-oss-20b' },
      });
      expect(await svc.waitFor((r) => r.msg === 'kubernetes worker workload adopted')).toMatchObject({
        model: GPT,
        name: 'maas-worker-openai-gpt-oss-20b',
      });
      expect(api.requests.filter((r) => r.method === 'POST')).toEqual([
        { method: 'POST', path: `/apis/apps/v1/namespaces/${NS}/deployments`, status: 409 },
      ]);

      // 30 req/s for Qwen: three replicas, three nodes; each VM's node joins the cluster as it boots
      const joined = new Set<string>();
      const publish = (rate: number) =>
        bus.publish(
          'metric.aggregated',
          factory.metricAggregated({
            model: QWEN,
            intervalStart: new Date(Date.now() - 1000).toISOString(),
            intervalSeconds: 1,
            requestRate: rate,
            concurrency: rate / 4,
            readyWorkers: 0,
          }),
        );
      const joinNodes = () => {
        for (const r of svc!.records()) {
          if (r.msg !== 'node state changed' || r.to !== 'booting' || joined.has(String(r.vmId))) continue;
          const vmId = String(r.vmId);
          joined.add(vmId);
          api.create('nodes', readyNode(vmId));
          // the Deployment's pod lands on it (no controller here: placed as the scheduler would)
          api.create('pods', {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              name: `maas-worker-qwen-${vmId}`,
              namespace: NS,
              labels: { 'open-maas.io/component': 'worker', app: 'maas-worker-qwen' },
            },
            spec: { nodeName: vmId, containers: [{ name: 'worker', image: 'open-maas:test' }] },
          });
        }
      };
      await until('the Qwen Deployment at 3 replicas', () => {
        publish(30);
        joinNodes();
        return api.get('deployments', NS, 'maas-worker-qwen')?.spec?.replicas === 3;
      });
      const scalePuts = api.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/maas-worker-qwen/scale'));
      expect(scalePuts[0].status).toBe(409);
      expect(scalePuts.slice(1).every((r) => r.status === 200)).toBe(true);
      await svc.waitFor((r) => r.msg === 'kubernetes write met a newer version; reading it again');
      await until('three nodes joined', () => {
        publish(30);
        joinNodes();
        return joined.size >= 3;
      });
      // the node watch saw each join
      for (const vmId of joined)
        await svc.waitFor((r) => r.msg === 'kubernetes node Ready' && r.vmId === vmId, 20_000, `node Ready of ${vmId}`);
      // the API server ends the watch (its timeout): the provider lists and watches again, missing nothing;
      // between that list and its watch, more changes than the server keeps: the watch is 410 Gone, listed again
      let expire = true;
      api.beforeRequest((method, p, search) => {
        if (method === 'GET' && p === '/api/v1/nodes' && search.get('watch') === 'true' && expire) {
          expire = false;
          for (let i = 0; i < 6; i += 1)
            api.create('deployments', {
              ...deployment(`elsewhere-${i}`, 'other-model', 0),
              metadata: { name: `elsewhere-${i}`, namespace: 'elsewhere' },
            });
        }
      });
      expect(api.endWatches()).toBe(1);
      api.create('nodes', readyNode('late-joiner'));
      await until(
        'the node watch re-established after a 410',
        () => api.openWatches === 1 && api.requests.filter((r) => r.method === 'WATCH').length >= 3,
      );
      expect(api.requests.filter((r) => r.method === 'WATCH').map((r) => r.status)).toEqual([200, 410, 200]);
      await svc.waitFor((r) => r.msg === 'kubernetes node watch ended; listing again' && /410/.test(String(r.error)));
      expect(api.get('deployments', NS, 'maas-worker-openai-gpt-oss-20b')?.spec?.replicas).toBe(0);

      // demand goes: replicas to zero, nodes cordoned and their worker pods deleted, then the Nodes removed and the VMs stopped
      await until('every node stopped and its Node gone', () => {
        publish(0);
        const nodes = api.list('nodes').map((n) => n.metadata.name);
        return (
          api.get('deployments', NS, 'maas-worker-qwen')?.spec?.replicas === 0 &&
          [...joined].every((id) => !nodes.includes(id)) &&
          svc!.records().filter((r) => r.msg === 'node state changed' && r.to === 'stopped').length >= joined.size
        );
      });
      for (const vmId of joined) {
        expect(api.requests).toContainEqual({ method: 'PATCH', path: `/api/v1/nodes/${vmId}`, status: 200 });
        expect(api.requests).toContainEqual({
          method: 'DELETE',
          path: `/api/v1/namespaces/${NS}/pods/maas-worker-qwen-${vmId}`,
          status: 200,
        });
        expect(api.requests).toContainEqual({ method: 'DELETE', path: `/api/v1/nodes/${vmId}`, status: 200 });
      }
      expect(api.list('pods')).toEqual([]);
      expect(api.get('nodes', '', 'control-plane-1')?.spec?.unschedulable).toBeUndefined();
      expect(
        api
          .list('nodes')
          .map((n) => n.metadata.name)
          .sort(),
      ).toEqual(['control-plane-1', 'late-joiner']);
      // every request carried the kubeconfig's token: none was refused as unauthorised
      expect(api.requests.filter((r) => r.status === 401)).toEqual([]);
    } finally {
      await svc?.stop();
      svc = undefined;
      await deleteStreams(nc, namespace);
      await api.stop();
    }
  });

  it('with Knative Serving, creates the model’s Knative Service from the template and sets its min/max scale, re-reading after a 409', async () => {
    const api = await new KubeApiServer({ knative: true }).start();
    const namespace = testNamespace();
    const bus = new MessageBus(nc, new Subjects(namespace));
    try {
      const name = 'maas-worker-qwen-qwen2-5-3b-instruct';
      let interfered = false;
      api.beforeRequest((method, p) => {
        if (method === 'PATCH' && p.endsWith(`/services/${name}`) && !interfered) {
          interfered = true;
          // Knative's controller writes the Service's status in between
          api.update('services', NS, name, (s) => {
            s.status = { observedGeneration: s.metadata.generation, conditions: [{ type: 'Ready', status: 'True' }] };
          });
        }
      });
      const template = {
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Service',
        metadata: { name: 'maas-worker-{slug}', namespace: NS },
        spec: {
          template: {
            metadata: { annotations: { 'autoscaling.knative.dev/metric': 'concurrency' } },
            spec: { containers: [{ name: 'worker', image: 'open-maas:test', args: ['worker', '--model', '{model}'] }] },
          },
        },
      };
      svc = await run(api, namespace, template);
      const open = await svc.waitFor((r) => r.msg === 'kubernetes provider open', 20_000);
      expect(open).toMatchObject({
        knative: true,
        workloads: { [QWEN]: `KnativeService/${name}`, [GPT]: 'KnativeService/maas-worker-openai-gpt-oss-20b' },
      });
      const created = api.get('services', NS, name)!;
      expect(created.metadata.annotations).toEqual({ 'open-maas.io/model': QWEN });
      expect(created.metadata.labels).toEqual({ 'open-maas.io/component': 'worker' });
      expect((created.spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers[0].args).toEqual([
        'worker',
        '--model',
        QWEN,
      ]);

      const annotations = () =>
        (api.get('services', NS, name)?.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata
          .annotations;
      await until('min-scale 2 on the Qwen Knative Service', () => {
        bus.publish(
          'metric.aggregated',
          factory.metricAggregated({
            model: QWEN,
            intervalStart: new Date(Date.now() - 1000).toISOString(),
            intervalSeconds: 1,
            requestRate: 20,
            concurrency: 5,
            readyWorkers: 0,
          }),
        );
        return annotations()['autoscaling.knative.dev/min-scale'] === '2';
      });
      expect(annotations()).toEqual({
        'autoscaling.knative.dev/metric': 'concurrency',
        'autoscaling.knative.dev/min-scale': '2',
        'autoscaling.knative.dev/max-scale': '6',
      });
      const patches = api.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/services/${name}`));
      expect(patches[0].status).toBe(409);
      expect(patches.slice(1).every((r) => r.status === 200)).toBe(true);
      // the Knative controller's status survived our patch: it was merged, not replaced
      expect(api.get('services', NS, name)?.status).toMatchObject({ conditions: [{ type: 'Ready', status: 'True' }] });
      // unchanged bounds are not written again (each write would make a new revision)
      const writes = api.requests.filter((r) => r.method === 'PATCH').length;
      await sleep(1500);
      bus.publish(
        'metric.aggregated',
        factory.metricAggregated({
          model: QWEN,
          intervalStart: new Date(Date.now() - 1000).toISOString(),
          intervalSeconds: 1,
          requestRate: 20,
          concurrency: 5,
          readyWorkers: 0,
        }),
      );
      await sleep(1000);
      expect(api.requests.filter((r) => r.method === 'PATCH').length).toBe(writes);
      expect(api.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/services/${name}`)).length).toBeGreaterThan(
        patches.length + 2,
      );
    } finally {
      await svc?.stop();
      svc = undefined;
      await deleteStreams(nc, namespace);
      await api.stop();
    }
  });

  it('with mdx VMs as nodes: a VM powered on is ready once it joins the cluster as a Ready Node, and after demand goes its Node is cordoned, drained, deleted and the VM shut down', async () => {
    const api = await new KubeApiServer({ knative: false }).start();
    const namespace = testNamespace();
    const bus = new MessageBus(nc, new Subjects(namespace));
    // the VM template joins the k0s cluster under the VM's id; its kubelet stops with the guest
    const launch: GuestLauncher = (vm) => {
      api.create('nodes', readyNode(vm.id));
      let exit!: () => void;
      const exited = new Promise<void>((resolve) => (exit = resolve));
      return { pid: undefined, exited, signal: (sig) => void setTimeout(exit, sig === 'SIGKILL' ? 0 : 100) };
    };
    const config = parseMdxSimConfig({
      users: [{ username: 'scaler', password: 'pw-1' }],
      tokenTtlSeconds: 600,
      seed: 1,
      bootSeconds: { kind: 'uniform', min: 0.2, max: 0.4 },
      powerOffSeconds: 0.2,
      shutdownTimeoutSeconds: 5,
      projects: [
        {
          id: 'p-1',
          vms: [
            { id: 'vm-a', worker: [] },
            { id: 'vm-b', worker: [] },
            { id: 'vm-c', worker: [] },
          ],
        },
      ],
    });
    let sim: MdxSim | undefined;
    try {
      sim = await startMdxSim({ config, launch });
      api.create('deployments', deployment('maas-worker-qwen', QWEN, 0));
      const mdxSpec = {
        ...spec,
        capacity: { ...spec.capacity, vmTypes: [{ ...spec.capacity.vmTypes[0], name: 'mdx-qwen' }] },
        models: { [QWEN]: spec.models[QWEN] },
      };
      fs.writeFileSync(path.join(dir, 'mdx-spec.json'), JSON.stringify(mdxSpec));
      svc = await run(api, namespace, deployment('maas-worker-{slug}', '{model}', 0), {
        SCALING_KUBERNETES_NODES: 'mdx',
        SCALING_SPEC_FILE: path.join(dir, 'mdx-spec.json'),
        SCALING_MDX_URL: sim.url,
        SCALING_MDX_PROJECT: 'p-1',
        SCALING_MDX_USERNAME: 'scaler',
        SCALING_MDX_PASSWORD: 'pw-1',
        SCALING_MDX_POOLS: JSON.stringify({ 'mdx-qwen': { model: QWEN, vms: ['vm-a', 'vm-b', 'vm-c'] } }),
        SCALING_MDX_POLL_MS: '100ms',
        // no worker registers before this: readiness can only come from the Node joining
        SCALING_BOOT_TIMEOUT_MS: '8s',
      });
      await svc.waitFor((r) => r.msg === 'kubernetes provider open', 20_000);
      const publish = (rate: number) =>
        bus.publish(
          'metric.aggregated',
          factory.metricAggregated({
            model: QWEN,
            intervalStart: new Date(Date.now() - 1000).toISOString(),
            intervalSeconds: 1,
            requestRate: rate,
            concurrency: rate / 4,
            readyWorkers: 0,
          }),
        );
      const changes = (vmId: string) =>
        svc!
          .records()
          .filter((r) => r.msg === 'node state changed' && r.vmId === vmId)
          .map((r) => `${r.from}→${r.to}`);

      const ready = await until('two mdx VMs ready as cluster nodes', () => {
        publish(20);
        const vms = [
          ...new Set(
            svc!
              .records()
              .filter((r) => r.msg === 'node state changed' && r.to === 'ready')
              .map((r) => String(r.vmId)),
          ),
        ];
        return vms.length >= 2 && api.get('deployments', NS, 'maas-worker-qwen')?.spec?.replicas === 2 && vms;
      });
      for (const vmId of ready) {
        expect(changes(vmId).slice(0, 2)).toEqual(['none→booting', 'booting→ready']);
        expect(svc.records().find((r) => r.msg === 'node state changed' && r.vmId === vmId && r.to === 'booting')).toMatchObject({
          provider: 'kubernetes',
          vmType: 'mdx-qwen',
          model: QWEN,
        });
        // a worker pod is scheduled on it and registers with the node's name as its VM id
        api.create('pods', {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `maas-worker-qwen-${vmId}`, namespace: NS, labels: { 'open-maas.io/component': 'worker' } },
          spec: { nodeName: vmId, containers: [{ name: 'worker', image: 'open-maas:test' }] },
        });
        bus.publish('worker.registered', factory.workerRegistered({ workerId: `w-${vmId}`, vmId }));
      }

      // demand goes: the pod deleted on drain is the worker's SIGTERM; it drains and deregisters
      const deregistered = new Set<string>();
      await until('both VMs stopped and powered off', async () => {
        publish(0);
        for (const vmId of ready) {
          if (!deregistered.has(vmId) && !api.get('pods', NS, `maas-worker-qwen-${vmId}`)) {
            deregistered.add(vmId);
            bus.publish('worker.deregistered', factory.workerDeregistered({ workerId: `w-${vmId}` }));
          }
        }
        const status = (await (await fetch(`${sim!.url}/_sim/vms`)).json()) as { id: string; status: string }[];
        return ready.every((id) => changes(id).includes('stopping→stopped') && status.find((v) => v.id === id)?.status === 'PowerOFF');
      });
      for (const vmId of ready) {
        expect(changes(vmId)).toEqual(['none→booting', 'booting→ready', 'ready→draining', 'draining→stopping', 'stopping→stopped']);
        expect(api.requests).toContainEqual({ method: 'PATCH', path: `/api/v1/nodes/${vmId}`, status: 200 });
        expect(api.get('nodes', '', vmId)).toBeUndefined();
      }
      expect(api.get('deployments', NS, 'maas-worker-qwen')?.spec?.replicas).toBe(0);
    } finally {
      await svc?.stop();
      svc = undefined;
      await sim?.close();
      await deleteStreams(nc, namespace);
      await api.stop();
    }
  });
});
