/** How long a VM takes from `power_on` to `PowerON`, in seconds. */
export type BootTimeDistribution =
  | { readonly kind: 'fixed'; readonly seconds: number }
  | { readonly kind: 'uniform'; readonly min: number; readonly max: number }
  /** Right-skewed like real boots: median e^mu, spread sigma (of the log). */
  | { readonly kind: 'lognormal'; readonly median: number; readonly sigma: number };

export interface MdxSimVm {
  /** The VM id of `/api/vm/{vm_id}/`. */
  readonly id: string;
  readonly name: string;
  readonly packType: 'gpu' | 'cpu';
  readonly packNum: number;
  /** `maas worker` arguments its VM template runs on boot (e.g. ["--launch", "sim-engine", …]); in the file, `worker` or `template`. */
  readonly worker: readonly string[];
  /** The first N boots of this VM fail whatever the failure rate says (a known-bad host). */
  readonly failFirstBoots: number;
}

export interface MdxSimProject {
  readonly id: string;
  readonly name: string;
  readonly vms: readonly MdxSimVm[];
}

/**
 * A failed boot either never reaches `PowerON` (the power-on task fails, the VM stays `PowerOFF`) or
 * reaches it with a guest that never starts its worker (and ignores an ACPI shutdown).
 */
export type BootFailureMode = 'stays-off' | 'guest-hangs';

export interface MdxSimConfig {
  readonly users: readonly { readonly username: string; readonly password: string }[];
  /** Lifetime of an issued token; an expired token is refused (401) and cannot be refreshed. */
  readonly tokenTtlSeconds: number;
  /** How far the API server's clock runs ahead of its clients': tokens expire that much earlier than their `exp` suggests to a client. */
  readonly clockSkewSeconds: number;
  readonly seed: number;
  readonly bootSeconds: BootTimeDistribution;
  /** Fraction of power-ons that fail (drawn from the seeded generator). */
  readonly bootFailureRate: number;
  readonly bootFailureMode: BootFailureMode;
  /** VM templates of the catalogue (`maas worker` arguments their unit runs), deployable with POST /api/vm/deploy/. */
  readonly templates: Readonly<Record<string, readonly string[]>>;
  /** A deploy takes this long (Deploying) before the VM is PowerOFF, or boots when asked to power on. */
  readonly deploySeconds: BootTimeDistribution;
  /** Guest OS halt after its services stopped, and a forced power-off, take this long. */
  readonly powerOffSeconds: number;
  /** A guest shutdown waits this long for the worker (systemd's TimeoutStopSec) before killing it. */
  readonly shutdownTimeoutSeconds: number;
  /** Token bucket per client address; null: no limit. */
  readonly rateLimit: { readonly requestsPerSecond: number; readonly burst: number } | null;
  readonly projects: readonly MdxSimProject[];
  /** Program and leading arguments of `maas` inside a VM (default: this checkout's bin/maas.js). */
  readonly maasCommand?: readonly string[];
  /** Environment of every guest's worker on top of the simulator's own (NATS_URL, MAAS_NAMESPACE). */
  readonly env: Readonly<Record<string, string>>;
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

class Check {
  constructor(private readonly where: string) {}
  fail(key: string, expected: string, got: unknown): never {
    throw new Error(`${this.where}: ${key} must be ${expected}, got ${JSON.stringify(got)}`);
  }
  number(o: Raw, key: string, fallback: number | undefined, ok: (n: number) => boolean, expected: string): number {
    const v = o[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) this.fail(key, expected, o[key]);
    return v;
  }
  string(o: Raw, key: string, fallback?: string): string {
    const v = o[key] ?? fallback;
    if (typeof v !== 'string' || v === '') this.fail(key, 'a non-empty string', o[key]);
    return v;
  }
}

const positive = (n: number) => n > 0;
const nonNegative = (n: number) => n >= 0;

function bootDistribution(raw: unknown, c: Check): BootTimeDistribution {
  if (raw === undefined) return { kind: 'lognormal', median: 60, sigma: 0.3 };
  if (!isObject(raw)) c.fail('bootSeconds', 'an object', raw);
  switch (raw.kind) {
    case 'fixed':
      return { kind: 'fixed', seconds: c.number(raw, 'seconds', undefined, nonNegative, 'seconds >= 0') };
    case 'uniform': {
      const min = c.number(raw, 'min', undefined, nonNegative, 'seconds >= 0');
      return { kind: 'uniform', min, max: c.number(raw, 'max', undefined, (n) => n >= min, `seconds >= min (${min})`) };
    }
    case 'lognormal':
      return {
        kind: 'lognormal',
        median: c.number(raw, 'median', undefined, positive, 'seconds > 0'),
        sigma: c.number(raw, 'sigma', undefined, nonNegative, 'a number >= 0'),
      };
    default:
      return c.fail('bootSeconds.kind', 'fixed, uniform or lognormal', raw.kind);
  }
}

/** The simulator's configuration from its JSON file; every error names the key. */
export function parseMdxSimConfig(raw: unknown, where = 'mdx-sim config'): MdxSimConfig {
  const c: Check = new Check(where);
  if (!isObject(raw)) c.fail('the file', 'a JSON object', raw);
  if (!Array.isArray(raw.users) || raw.users.length === 0) c.fail('users', 'a non-empty list of {username, password}', raw.users);
  const users = raw.users.map((u, i) => {
    if (!isObject(u)) c.fail(`users[${i}]`, 'an object', u);
    return {
      username: new Check(`${where}: users[${i}]`).string(u, 'username'),
      password: new Check(`${where}: users[${i}]`).string(u, 'password'),
    };
  });
  if (!Array.isArray(raw.projects) || raw.projects.length === 0) c.fail('projects', 'a non-empty list', raw.projects);
  const isArgs = (a: unknown): a is string[] => Array.isArray(a) && a.every((x) => typeof x === 'string');
  const templates = raw.templates ?? {};
  if (!isObject(templates) || Object.values(templates).some((t) => !isArgs(t)))
    c.fail('templates', 'an object of `maas worker` argument lists', raw.templates);
  const ids = new Set<string>();
  const projects = raw.projects.map((p, i) => {
    const pc: Check = new Check(`${where}: projects[${i}]`);
    if (!isObject(p)) c.fail(`projects[${i}]`, 'an object', p);
    if (!Array.isArray(p.vms)) pc.fail('vms', 'a list', p.vms);
    const id = pc.string(p, 'id');
    // {"id": "gpu-{n}", "count": 50, …} stands for gpu-001 … gpu-050
    const expanded = p.vms.flatMap((v, j) => {
      if (!isObject(v) || v.count === undefined) return [[v, j] as const];
      const count = pc.number(
        v,
        'count',
        undefined,
        (n) => Number.isInteger(n) && n >= 1 && n <= 10_000,
        `an integer from 1 to 10000 (vms[${j}])`,
      );
      if (typeof v.id !== 'string' || !v.id.includes('{n}')) pc.fail(`vms[${j}].id`, 'a pattern with {n} when count is given', v.id);
      const width = Math.max(3, String(count).length);
      return Array.from(
        { length: count },
        (_, k) => [{ ...v, id: (v.id as string).replace('{n}', String(k + 1).padStart(width, '0')), count: undefined }, j] as const,
      );
    });
    return {
      id,
      name: pc.string(p, 'name', id),
      vms: expanded.map(([v, j]) => {
        const vc: Check = new Check(`${where}: projects[${i}].vms[${j}]`);
        if (!isObject(v)) pc.fail(`vms[${j}]`, 'an object', v);
        const vmId = vc.string(v, 'id');
        if (ids.has(vmId)) vc.fail('id', 'unique', vmId);
        ids.add(vmId);
        if (v.template !== undefined) {
          if (typeof v.template !== 'string' || !(v.template in templates))
            vc.fail('template', `one of the templates (${Object.keys(templates).join(', ') || 'none'})`, v.template);
          if (v.worker !== undefined) vc.fail('worker', 'absent when template is given', v.worker);
          v = { ...v, worker: (templates as Record<string, string[]>)[v.template] };
        }
        if (!isArgs(v.worker)) vc.fail('worker', 'a list of `maas worker` arguments (or give template)', v.worker);
        const packType = v.packType ?? 'gpu';
        if (packType !== 'gpu' && packType !== 'cpu') vc.fail('packType', 'gpu or cpu', packType);
        return {
          id: vmId,
          name: vc.string(v, 'name', vmId),
          packType,
          packNum: vc.number(v, 'packNum', 1, (n) => Number.isInteger(n) && n >= 1, 'a positive integer'),
          worker: v.worker as string[],
          failFirstBoots: vc.number(v, 'failFirstBoots', 0, (n) => Number.isInteger(n) && n >= 0, 'an integer >= 0'),
        } satisfies MdxSimVm;
      }),
    };
  });
  let rateLimit: MdxSimConfig['rateLimit'] = { requestsPerSecond: 10, burst: 30 };
  if (raw.rateLimit === null) rateLimit = null;
  else if (raw.rateLimit !== undefined) {
    if (!isObject(raw.rateLimit)) c.fail('rateLimit', 'an object or null', raw.rateLimit);
    const rc: Check = new Check(`${where}: rateLimit`);
    rateLimit = {
      requestsPerSecond: rc.number(raw.rateLimit, 'requestsPerSecond', undefined, positive, 'a number > 0'),
      burst: rc.number(raw.rateLimit, 'burst', undefined, (n) => n >= 1, 'a number >= 1'),
    };
  }
  const mode = raw.bootFailureMode ?? 'guest-hangs';
  if (mode !== 'stays-off' && mode !== 'guest-hangs') c.fail('bootFailureMode', 'stays-off or guest-hangs', mode);
  if (
    raw.maasCommand !== undefined &&
    (!Array.isArray(raw.maasCommand) || raw.maasCommand.length === 0 || raw.maasCommand.some((a) => typeof a !== 'string'))
  ) {
    c.fail('maasCommand', 'a non-empty list of strings', raw.maasCommand);
  }
  if (raw.env !== undefined && (!isObject(raw.env) || Object.values(raw.env).some((v) => typeof v !== 'string')))
    c.fail('env', 'an object of strings', raw.env);
  return {
    users,
    tokenTtlSeconds: c.number(raw, 'tokenTtlSeconds', 300, positive, 'seconds > 0'),
    clockSkewSeconds: c.number(raw, 'clockSkewSeconds', 0, Number.isFinite, 'a number of seconds'),
    seed: c.number(raw, 'seed', 1, (n) => Number.isInteger(n) && n >= 0, 'an integer >= 0'),
    bootSeconds: bootDistribution(raw.bootSeconds, c),
    templates: templates as Record<string, string[]>,
    deploySeconds:
      raw.deploySeconds === undefined
        ? { kind: 'fixed', seconds: 30 }
        : bootDistribution(raw.deploySeconds, new Check(`${where}: deploySeconds`)),
    bootFailureRate: c.number(raw, 'bootFailureRate', 0, (n) => n >= 0 && n <= 1, 'a fraction in [0, 1]'),
    bootFailureMode: mode,
    powerOffSeconds: c.number(raw, 'powerOffSeconds', 2, nonNegative, 'seconds >= 0'),
    shutdownTimeoutSeconds: c.number(raw, 'shutdownTimeoutSeconds', 90, nonNegative, 'seconds >= 0'),
    rateLimit,
    projects,
    ...(raw.maasCommand ? { maasCommand: raw.maasCommand as string[] } : {}),
    env: (raw.env as Record<string, string> | undefined) ?? {},
  };
}

/** One draw of a boot time, from uniform draws in [0, 1). */
export function drawBootSeconds(d: BootTimeDistribution, uniform: () => number): number {
  switch (d.kind) {
    case 'fixed':
      return d.seconds;
    case 'uniform':
      return d.min + (d.max - d.min) * uniform();
    case 'lognormal': {
      // Box–Muller: one standard normal from two uniforms
      const z = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
      return d.median * Math.exp(d.sigma * z);
    }
  }
}
