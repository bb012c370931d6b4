import * as http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { MdxSimConfig, MdxSimVm } from './sim-config';
import { TokenIssuer } from './tokens';
import { GuestLauncher, SimVmView, VmFleet, VmStateError } from './vm-fleet';

export interface MdxSimOptions {
  readonly config: MdxSimConfig;
  readonly launch: GuestLauncher;
  readonly host?: string;
  readonly port?: number;
}

/** What the simulator counts, at `GET /_sim/stats` (not part of the mdx API). */
export interface MdxSimStats {
  logins: number;
  refreshes: number;
  refusedRefreshes: number;
  unauthorized: { absent: number; malformed: number; signature: number; expired: number };
  rateLimited: number;
  requests: number;
}

export interface MdxSim {
  readonly url: string;
  readonly port: number;
  readonly fleet: VmFleet;
  readonly stats: MdxSimStats;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.detail ?? status));
  }
}

/** A token bucket per client address. */
class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly limit: NonNullable<MdxSimConfig['rateLimit']>) {}

  /** 0 when the request may pass, else the seconds until it may. */
  take(client: string, nowMs: number): number {
    const b = this.buckets.get(client) ?? { tokens: this.limit.burst, at: nowMs };
    b.tokens = Math.min(this.limit.burst, b.tokens + ((nowMs - b.at) / 1000) * this.limit.requestsPerSecond);
    b.at = nowMs;
    this.buckets.set(client, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.limit.requestsPerSecond;
  }
}

const catalogId = (template: string) => `catalog-${template}`;

function vmDetail(v: SimVmView): Record<string, unknown> {
  const gpus = v.vm.packType === 'gpu' ? v.vm.packNum : 0;
  return {
    uuid: v.vm.id,
    name: v.vm.name,
    status: v.status,
    cpu: v.vm.packType === 'gpu' ? 18 * v.vm.packNum : v.vm.packNum,
    memory: v.vm.packType === 'gpu' ? 108 * v.vm.packNum : 2 * v.vm.packNum,
    gpu: gpus,
    pack_type: v.vm.packType,
    pack_num: v.vm.packNum,
    service_networks: [{ adapter_number: 1, ipv4_address: ['127.0.0.1'] }],
    hard_disks: [{ capacity: 40, datastore: 'sim' }],
    project: v.projectId,
  };
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    /* answered below */
  }
  throw new HttpError(400, { detail: 'JSON parse error' });
}

/**
 * The mdx REST API as /work/shared/MDX-API.md describes it, over real HTTP, in front of a VmFleet.
 * Every assumption beyond those facts is listed in ./assumptions.ts.
 */
export async function startMdxSim(options: MdxSimOptions): Promise<MdxSim> {
  const { config } = options;
  const tokens = new TokenIssuer(config.tokenTtlSeconds);
  const fleet = new VmFleet(config, options.launch);
  const limiter = config.rateLimit ? new RateLimiter(config.rateLimit) : undefined;
  const now = () => Date.now() + config.clockSkewSeconds * 1000;
  const stats: MdxSimStats = {
    logins: 0,
    refreshes: 0,
    refusedRefreshes: 0,
    unauthorized: { absent: 0, malformed: 0, signature: 0, expired: 0 },
    rateLimited: 0,
    requests: 0,
  };

  function authenticate(req: http.IncomingMessage): string {
    const header = req.headers.authorization ?? '';
    const match = /^JWT\s+(\S+)$/.exec(header);
    if (!match) {
      stats.unauthorized.absent += 1;
      throw new HttpError(401, { detail: 'Authentication credentials were not provided.' }, { 'www-authenticate': 'JWT realm="api"' });
    }
    const check = tokens.check(match[1], now());
    if (!check.ok) {
      stats.unauthorized[check.why] += 1;
      throw new HttpError(
        401,
        { detail: check.why === 'expired' ? 'Signature has expired.' : 'Error decoding signature.' },
        { 'www-authenticate': 'JWT realm="api"' },
      );
    }
    return check.claims.username;
  }

  /** POST /api/vm/deploy/ with the spec MDX-API.md lists; field errors are 400s naming the field, as DRF's. */
  function deploy(body: Record<string, unknown>): string {
    const errors: Record<string, string[]> = {};
    const required = [
      'catalog',
      'template_name',
      'vm_name',
      'project',
      'pack_type',
      'pack_num',
      'disk_size',
      'os_type',
      'power_on',
      'shared_key',
      'storage_network',
      'network_adapters',
    ];
    for (const f of required) if (body[f] === undefined) errors[f] = ['This field is required.'];
    const template = String(body.template_name ?? '');
    if (body.template_name !== undefined && !(template in config.templates)) errors.template_name = [`No template "${template}".`];
    else if (body.catalog !== undefined && body.catalog !== catalogId(template)) errors.catalog = ['Invalid pk - object does not exist.'];
    if (body.project !== undefined && !config.projects.some((pr) => pr.id === body.project))
      errors.project = ['Invalid pk - object does not exist.'];
    if (body.pack_type !== undefined && body.pack_type !== 'gpu' && body.pack_type !== 'cpu')
      errors.pack_type = [`"${String(body.pack_type)}" is not a valid choice.`];
    if (body.pack_num !== undefined && !(Number.isInteger(body.pack_num) && (body.pack_num as number) >= 1))
      errors.pack_num = ['A valid integer is required.'];
    if (body.storage_network !== undefined && !['sr-iov', 'pvrdma', 'portgroup'].includes(String(body.storage_network)))
      errors.storage_network = [`"${String(body.storage_network)}" is not a valid choice.`];
    if (body.vm_name !== undefined && (typeof body.vm_name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(body.vm_name)))
      errors.vm_name = ['Enter a valid VM name.'];
    if (typeof body.vm_name === 'string' && config.projects.some((pr) => fleet.ofProject(pr.id).some((v) => v.vm.name === body.vm_name)))
      errors.vm_name = ['A VM with this name exists.'];
    if (Object.keys(errors).length > 0) throw new HttpError(400, errors);
    const vm: MdxSimVm = {
      id: randomUUID(),
      name: String(body.vm_name),
      packType: body.pack_type as 'gpu' | 'cpu',
      packNum: body.pack_num as number,
      worker: config.templates[template],
      failFirstBoots: 0,
    };
    fleet.deploy(String(body.project), vm, body.power_on === true);
    return randomUUID();
  }

  function vmOf(id: string): SimVmView {
    const v = fleet.get(id);
    if (!v) throw new HttpError(404, { detail: 'Not found.' });
    return v;
  }

  function act(id: string, change: () => void): [number, Record<string, unknown>] {
    vmOf(id);
    try {
      change();
    } catch (err) {
      if (err instanceof VmStateError) throw new HttpError(400, { detail: err.message });
      throw err;
    }
    return [202, {}];
  }

  async function route(req: http.IncomingMessage, url: URL): Promise<[number, unknown]> {
    const method = req.method ?? 'GET';
    const p = url.pathname;
    if (p === '/_sim/stats' && method === 'GET') return [200, { ...stats, fleet: fleet.counters }];
    if (p === '/_sim/vms' && method === 'GET') {
      return [
        200,
        config.projects.flatMap((pr) =>
          fleet.ofProject(pr.id).map((v) => ({
            id: v.vm.id,
            status: v.status,
            task: v.task,
            boots: v.boots,
            failedBoots: v.failedBoots,
            guestPid: v.guestPid ?? null,
          })),
        ),
      ];
    }
    if (limiter) {
      const wait = limiter.take(req.socket.remoteAddress ?? '?', Date.now());
      if (wait > 0) {
        stats.rateLimited += 1;
        throw new HttpError(
          429,
          { detail: `Request was throttled. Expected available in ${Math.ceil(wait)} seconds.` },
          { 'retry-after': String(Math.ceil(wait)) },
        );
      }
    }
    stats.requests += 1;
    if (p === '/api/login/' && method === 'POST') {
      const body = await readJson(req);
      const user = config.users.find((u) => u.username === body.username && u.password === body.password);
      if (!user) throw new HttpError(400, { non_field_errors: ['Unable to log in with provided credentials.'] });
      stats.logins += 1;
      return [200, { token: tokens.issue(user.username, now()) }];
    }
    if (p === '/api/refresh/' && method === 'POST') {
      const body = await readJson(req);
      const check = typeof body.token === 'string' ? tokens.check(body.token, now()) : undefined;
      if (!check?.ok) {
        stats.refusedRefreshes += 1;
        throw new HttpError(400, {
          non_field_errors: [check && !check.ok && check.why === 'expired' ? 'Signature has expired.' : 'Error decoding signature.'],
        });
      }
      stats.refreshes += 1;
      return [200, { token: tokens.issue(check.claims.username, now(), check.claims.orig_iat) }];
    }
    if (!p.startsWith('/api/')) throw new HttpError(404, { detail: 'Not found.' });
    authenticate(req);
    if (p === '/api/project/assigned/' && method === 'GET') return [200, config.projects.map((pr) => ({ id: pr.id, name: pr.name }))];
    let m = /^\/api\/vm\/project\/([^/]+)\/$/.exec(p);
    if (m && method === 'GET') {
      const project = config.projects.find((pr) => pr.id === m![1]);
      if (!project) throw new HttpError(404, { detail: 'Not found.' });
      const page = Number(url.searchParams.get('page') ?? '1');
      const size = Math.min(100, Number(url.searchParams.get('page_size') ?? '20'));
      if (!Number.isInteger(page) || page < 1 || !Number.isInteger(size) || size < 1) throw new HttpError(404, { detail: 'Invalid page.' });
      const all = fleet.ofProject(project.id);
      const pages = Math.max(1, Math.ceil(all.length / size));
      if (page > pages) throw new HttpError(404, { detail: 'Invalid page.' });
      const link = (n: number) => `${url.origin}${p}?page=${n}&page_size=${size}`;
      return [
        200,
        {
          count: all.length,
          next: page < pages ? link(page + 1) : null,
          previous: page > 1 ? link(page - 1) : null,
          results: all.slice((page - 1) * size, page * size).map(vmDetail),
        },
      ];
    }
    m = /^\/api\/catalog\/project\/([^/]+)\/$/.exec(p);
    if (m && method === 'GET') {
      if (!config.projects.some((pr) => pr.id === m![1])) throw new HttpError(404, { detail: 'Not found.' });
      const results = Object.keys(config.templates).map((name) => ({ id: catalogId(name), name, template_name: name, os_type: 'Linux' }));
      return [200, { count: results.length, next: null, previous: null, results }];
    }
    if (p === '/api/vm/deploy/' && method === 'POST') return [202, { task_id: deploy(await readJson(req)) }];
    m = /^\/api\/vm\/([^/]+)\/destroy\/$/.exec(p);
    if (m && method === 'POST') {
      const id = m[1];
      act(id, () => fleet.destroy(id));
      return [202, { task_id: randomUUID() }];
    }
    m = /^\/api\/vm\/([^/]+)\/(power_on|shutdown|power_off)\/$/.exec(p);
    if (m && method === 'POST') {
      const [, id, action] = m;
      const body = await readJson(req);
      if (action === 'power_on') {
        if (body.service_level !== undefined && (typeof body.service_level !== 'string' || body.service_level === ''))
          throw new HttpError(400, { service_level: ['Not a valid choice.'] });
        return act(id, () => fleet.powerOn(id));
      }
      return act(id, () => (action === 'shutdown' ? fleet.shutdown(id) : fleet.powerOff(id)));
    }
    m = /^\/api\/vm\/([^/]+)\/$/.exec(p);
    if (m && method === 'GET') return [200, vmDetail(vmOf(m[1]))];
    throw new HttpError(404, { detail: 'Not found.' });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    route(req, url).then(
      ([status, body]) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
      (err: Error) => {
        const e = err instanceof HttpError ? err : new HttpError(500, { detail: err.message });
        const text = JSON.stringify(e.body);
        res.writeHead(e.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...e.headers });
        res.end(text);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    fleet,
    stats,
    async close() {
      await fleet.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
