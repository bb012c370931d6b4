import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';

/**
 * Several hosts on one machine: one Linux network namespace per host, each joined by a veth pair to a
 * bridge on a private /24 of its own. The machine running the test sits on the bridge at `.1` (the
 * campus network the clients come from); nothing is routed beyond the subnet. Needs root and iproute2.
 *
 * Names carry a per-run id (`mhd-<run>-<host>`, links `mhd<run>…`), and an owner file records the
 * process that made them: a run that finds names of a run whose process is gone (a crash, a killed
 * jest) kills what still runs in those namespaces and deletes them first.
 */
const PREFIX = 'mhd';
const OWNERS = '/run/maas-netns';
const NAMESPACE = new RegExp(`^${PREFIX}-([0-9a-f]{4})-`);
const LINK = new RegExp(`^${PREFIX}([0-9a-f]{4})`);

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerOf(run: string): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(`${OWNERS}/${run}`, 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function namespaces(): string[] {
  return ip('netns', 'list')
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter(Boolean);
}

function links(): string[] {
  return ip('-o', 'link', 'show')
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => !!n);
}

/** Process ids running inside a namespace (any that exec'd into it). */
function pidsIn(netns: string): number[] {
  try {
    return ip('netns', 'pids', netns)
      .split('\n')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

/** Kills every process of a namespace with `signal` and waits until none is left (SIGKILL after `graceMs`). */
async function killAllIn(netns: string, signal: NodeJS.Signals, graceMs = 10_000): Promise<number> {
  const pids = pidsIn(netns);
  for (const pid of pids) process.kill(pid, signal);
  const deadline = Date.now() + graceMs;
  while (pidsIn(netns).length) {
    if (Date.now() > deadline) for (const pid of pidsIn(netns)) process.kill(pid, 'SIGKILL');
    await sleep(50);
  }
  return pids.length;
}

/** Removes the namespaces and links of earlier runs whose process is no longer alive. */
export async function removeLeftovers(): Promise<string[]> {
  fs.mkdirSync(OWNERS, { recursive: true });
  const dead = (run: string) => {
    const pid = ownerOf(run);
    return pid === undefined || !alive(pid);
  };
  const removed: string[] = [];
  for (const ns of namespaces()) {
    const run = NAMESPACE.exec(ns)?.[1];
    if (!run || !dead(run)) continue;
    await killAllIn(ns, 'SIGKILL');
    ip('netns', 'delete', ns);
    removed.push(ns);
  }
  for (const link of links()) {
    const run = LINK.exec(link)?.[1];
    if (!run || !dead(run)) continue;
    ip('link', 'delete', link);
    removed.push(link);
  }
  for (const run of fs.readdirSync(OWNERS)) {
    if (/^[0-9a-f]{4}$/.test(run) && dead(run)) fs.rmSync(`${OWNERS}/${run}`, { force: true });
  }
  return removed;
}

/** Throws the reason this machine cannot make network namespaces (not root, no iproute2, no kernel support). */
export function requireNetworkNamespaces(): void {
  const probe = `${PREFIX}-probe-${process.pid}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'delete', probe);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? 'iproute2 (the ip command) is not installed' : (e.stderr || e.message).trim().split('\n').pop();
    throw new Error(
      `the multi-host tests need Linux network namespaces, which this machine cannot create: ${why}` +
        `${process.getuid?.() === 0 ? '' : ' (they need root: run the tests as root, as CI does)'}`,
    );
  }
}

export interface Host {
  readonly name: string;
  /** Its network namespace. */
  readonly netns: string;
  /** Its address on the bridge. */
  readonly address: string;
  /** Runs a command inside the host: put in front of the command line (`ip netns exec …` execs it). */
  readonly prefix: string[];
}

/** Hosts joined by one bridge: cut a host's link, bring it back, kill what runs on it. */
export class HostNetwork {
  /** The test machine's address on the bridge: clients outside the hosts, and services forwarded from loopback. */
  readonly outside: string;
  private readonly bridge: string;
  private readonly hosts = new Map<string, Host & { link: string }>();
  private readonly onExit = () => this.removeNow();

  private constructor(
    readonly run: string,
    readonly subnet: string,
  ) {
    this.bridge = `${PREFIX}${run}br`;
    this.outside = `${subnet}.1`;
  }

  /** Makes the bridge and one namespace per host name, addressed `.11`, `.12`, … in order. */
  static async create(names: string[]): Promise<HostNetwork> {
    requireNetworkNamespaces();
    await removeLeftovers();
    const taken = new Set(ip('-o', '-4', 'addr', 'show').match(/10\.213\.\d+/g) ?? []);
    let run: string;
    let subnet: string;
    do {
      run = randomBytes(2).toString('hex');
      subnet = `10.213.${parseInt(run, 16) % 254}`;
    } while (taken.has(subnet) || fs.existsSync(`${OWNERS}/${run}`));
    fs.writeFileSync(`${OWNERS}/${run}`, String(process.pid));
    const network = new HostNetwork(run, subnet);
    process.once('exit', network.onExit);
    try {
      ip('link', 'add', network.bridge, 'type', 'bridge');
      ip('addr', 'add', `${network.outside}/24`, 'dev', network.bridge);
      ip('link', 'set', network.bridge, 'up');
      names.forEach((name, i) => network.addHost(name, 11 + i));
    } catch (err) {
      network.removeNow();
      throw err;
    }
    return network;
  }

  private addHost(name: string, octet: number): void {
    if (!/^[a-z0-9-]{1,20}$/.test(name)) throw new Error(`host name "${name}": use a-z, 0-9 and - (at most 20)`);
    const netns = `${PREFIX}-${this.run}-${name}`;
    const link = `${PREFIX}${this.run}h${octet}`;
    const address = `${this.subnet}.${octet}`;
    ip('netns', 'add', netns);
    ip('link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
    ip('link', 'set', link, 'master', this.bridge, 'up');
    ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    ip('-n', netns, 'link', 'set', 'eth0', 'up');
    ip('-n', netns, 'link', 'set', 'lo', 'up');
    this.hosts.set(name, { name, netns, address, link, prefix: ['ip', 'netns', 'exec', netns] });
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host "${name}" (hosts: ${[...this.hosts.keys()].join(', ')})`);
    return h;
  }

  /** Pulls the host's cable at the bridge: its packets go nowhere, its open connections hang, nothing is told. */
  cut(name: string): void {
    ip('link', 'set', this.hosts.get(this.host(name).name)!.link, 'down');
  }

  restore(name: string): void {
    ip('link', 'set', this.hosts.get(this.host(name).name)!.link, 'up');
  }

  /** Kills every process running on the host (SIGKILL: a power cut); resolves with how many there were, once all are gone. */
  kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<number> {
    return killAllIn(this.host(name).netns, signal);
  }

  /** Stops what still runs on the hosts, then removes them, the bridge and the owner file. */
  async destroy(): Promise<void> {
    for (const h of this.hosts.values()) await killAllIn(h.netns, 'SIGTERM', 5000);
    this.removeNow();
  }

  private removeNow(): void {
    process.removeListener('exit', this.onExit);
    for (const h of this.hosts.values()) {
      for (const pid of pidsIn(h.netns)) process.kill(pid, 'SIGKILL');
      try {
        ip('netns', 'delete', h.netns); // takes the host's end of the veth pair with it
      } catch {
        // already gone
      }
    }
    this.hosts.clear();
    try {
      ip('link', 'delete', this.bridge);
    } catch {
      // already gone
    }
    fs.rmSync(`${OWNERS}/${this.run}`, { force: true });
  }
}

/**
 * A TCP forwarder from an address the hosts reach (the bridge) to a server that listens on loopback
 * only, such as the machine's PostgreSQL: the hosts see one server on `listenHost:port`.
 */
export class TcpForward {
  private readonly open = new Set<net.Socket>();
  private server?: net.Server;
  port = 0;

  constructor(
    private readonly listenHost: string,
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<this> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.open.add(s);
        s.on('close', () => this.open.delete(s));
        s.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, this.listenHost, () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.open) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
