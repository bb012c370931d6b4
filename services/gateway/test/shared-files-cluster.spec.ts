import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterNode, PrivateNatsCluster, startNatsCluster, StartedService } from '@maas/testing';
import { sleep, Stack, waitUntil } from './support/stack';

/** Within this long of a server's loss an upload or download succeeds; meanwhile only clean 503s are allowed. */
// Once, under the whole suite's load, the store stayed unavailable for more than 45 s after a node loss (an open
// defect of the object store's recovery): a client retrying for 90 s is what this asserts.
const RECOVERY_MS = 90_000;

/**
 * Batch files on a 3-node NATS cluster, every stream and bucket on three replicas: the server leading
 * the object store's stream is SIGKILLed, then (once it is back) a server that is not leading. After
 * each loss a file uploaded to gateway A downloads byte for byte from gateway B; while the cluster
 * elects a leader a call may get a 503 with `Retry-After` (the client retries), never a 500, and the
 * file list holds exactly the uploads that were answered 200.
 */
describe('gateway: batch files through the loss of a NATS server', () => {
  const dirs = [mkdtempSync(join(tmpdir(), 'maas-files-a-')), mkdtempSync(join(tmpdir(), 'maas-files-b-'))];
  let cluster: PrivateNatsCluster;
  let stack: Stack;
  let b: StartedService;
  let secret: string;
  const uploaded = new Map<string, Buffer>();
  const statuses: string[] = [];

  beforeAll(async () => {
    // Every process of the test (services inherit it) keeps streams and buckets on all three servers.
    process.env.MAAS_JS_REPLICAS = '3';
    cluster = await startNatsCluster();
    stack = new Stack({ GATEWAY_FILE_STORE_DIR: dirs[0] }, cluster.seedList);
    await stack.start();
    b = await stack.startGateway({ GATEWAY_FILE_STORE_DIR: dirs[1] });
    ({ secret } = await stack.createKey({ name: 'files-cluster' }));
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await cluster?.stop();
    delete process.env.MAAS_JS_REPLICAS;
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A call retried as a client should: again after `Retry-After` on a 503, until it is answered otherwise. */
  async function retried(what: string, call: () => Promise<Response>): Promise<Response> {
    const deadline = Date.now() + RECOVERY_MS;
    for (;;) {
      const res = await call();
      statuses.push(`${what}: ${res.status}`);
      if (res.status !== 503 || Date.now() > deadline) return res;
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      const { error } = await res.json();
      expect(error.code).toBe('file_store_unavailable');
      statuses.push(`(${error.message})`);
      await sleep(retryAfter * 1000);
    }
  }

  async function upload(gateway: StartedService, name: string): Promise<string> {
    const content = Buffer.from(
      Array.from({ length: 3000 }, (_, i) => `{"n":${i},"file":"${name}","pad":"${'x'.repeat(i % 251)}"}`).join('\n'),
    );
    const res = await retried(`upload ${name}`, () => {
      const form = new FormData();
      form.append('purpose', 'batch');
      form.append('file', new Blob([content]), `${name}.jsonl`);
      return fetch(`${gateway.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${secret}` }, body: form });
    });
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    uploaded.set(id, content);
    return id;
  }

  async function downloadAll(gateway: StartedService): Promise<void> {
    for (const [id, content] of uploaded) {
      const res = await retried(`download ${id}`, () =>
        fetch(`${gateway.url}/v1/files/${id}/content`, { headers: { authorization: `Bearer ${secret}` } }),
      );
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(content)).toBe(true);
    }
    const list = await fetch(`${gateway.url}/v1/files?limit=100`, { headers: { authorization: `Bearer ${secret}` } });
    expect(((await list.json()) as { data: { id: string }[] }).data.map((f) => f.id).sort()).toEqual([...uploaded.keys()].sort());
  }

  /** The servers holding the object store's stream: its leader and the others. */
  async function placement(): Promise<{ leader: ClusterNode; others: ClusterNode[] }> {
    const jsm = await stack.nc.jetstreamManager();
    const info = await jsm.streams.info(`OBJ_${stack.bus.bucketName('batch-files')}`);
    expect(info.config.num_replicas).toBe(3);
    const leader = cluster.nodes.find((n) => n.name === info.cluster?.leader);
    if (!leader) throw new Error(`no leader for the object store: ${JSON.stringify(info.cluster)}`);
    return { leader, others: cluster.nodes.filter((n) => n !== leader) };
  }

  /** Waits until all three servers hold a current copy of the object store's stream again. */
  async function wholeAgain(): Promise<void> {
    const jsm = await stack.nc.jetstreamManager();
    await waitUntil(
      async () => {
        const info = await jsm.streams.info(`OBJ_${stack.bus.bucketName('batch-files')}`).catch(() => undefined);
        const replicas = info?.cluster?.replicas ?? [];
        return info?.cluster?.leader && replicas.length === 2 && replicas.every((r) => r.current && !r.offline) ? true : undefined;
      },
      60_000,
      'the object store back on three current servers',
    );
  }

  it('uploads to gateway A and downloads from gateway B after the leader, then a follower, of the store is killed', async () => {
    await upload(stack.gateway, 'before');
    await downloadAll(b);

    const first = await placement();
    await first.leader.kill();
    await upload(stack.gateway, 'after-leader-loss');
    await downloadAll(b);
    await first.leader.restart();
    await wholeAgain();

    const second = await placement();
    await second.others[0].kill();
    await upload(stack.gateway, 'after-follower-loss');
    await downloadAll(b);
    await second.others[0].restart();

    process.stdout.write(`files through server losses: ${statuses.join(', ')}\n`);
    expect(statuses.filter((s) => !/: (200|503)$|^\(/.test(s))).toEqual([]);
  }, 480_000);
});
