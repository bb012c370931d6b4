import type { Logger } from '@maas/logging';

/** How to obtain a token: a portal-issued one (refreshed while it lives), or a login that can start over. */
export interface MdxCredentials {
  readonly token?: string;
  readonly username?: string;
  readonly password?: string;
}

/** The fields of `GET /api/vm/{id}/` the provider reads. */
export interface MdxVm {
  readonly uuid: string;
  readonly name: string;
  readonly status: string;
}

/** The body of `POST /api/vm/deploy/` for ordinary (pack) projects, as MDX-API.md lists it. */
export interface MdxDeployRequest {
  readonly catalog: string;
  readonly template_name: string;
  readonly vm_name: string;
  readonly project: string;
  readonly pack_type: 'gpu' | 'cpu';
  readonly pack_num: number;
  readonly disk_size: number;
  readonly os_type: 'Linux';
  readonly power_on: boolean;
  readonly shared_key: string;
  readonly storage_network: 'sr-iov' | 'pvrdma' | 'portgroup';
  readonly network_adapters: readonly unknown[];
}

export class MdxApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Seconds since the epoch at which a JWT expires, or undefined when it carries no readable `exp`. */
export function tokenExpiry(token: string): number | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp : undefined;
  } catch {
    return undefined;
  }
}

const MAX_RETRY_AFTER_S = 60;
const MAX_THROTTLED = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The calls of the mdx REST API the provider makes, with its authentication: `Authorization: JWT`,
 * refresh ahead of expiry, refresh (or log in again) and retry once on 401, wait out 429s for as
 * long as Retry-After says. A 429 pauses the whole client: every call, in flight or new, waits for
 * the same instant instead of each finding the limit for itself. The token is never logged nor put
 * in an error.
 */
export class MdxApi {
  private token?: string;
  private issuedAt = 0;
  private renewing?: Promise<void>;
  /** Epoch ms before which no request is sent: the API's last Retry-After. */
  private pausedUntil = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly credentials: MdxCredentials,
    private readonly logger: Logger,
    private readonly timeoutMs = 30_000,
  ) {
    this.token = credentials.token;
    this.issuedAt = Date.now();
  }

  async vm(id: string): Promise<MdxVm> {
    return (await this.call<MdxVm>('GET', `/api/vm/${encodeURIComponent(id)}/`)).body;
  }

  /** Every VM of the project, page by page. */
  async projectVms(projectId: string): Promise<MdxVm[]> {
    const vms: MdxVm[] = [];
    for (let page = 1; ; page += 1) {
      const { body } = await this.call<{ results?: MdxVm[]; next?: string | null }>(
        'GET',
        `/api/vm/project/${encodeURIComponent(projectId)}/?page=${page}&page_size=100`,
      );
      vms.push(...(body.results ?? []));
      if (!body.next) return vms;
    }
  }

  /** Deploys a VM from a catalogue template; the API answers with a task id only (the VM is found by its name). */
  async deploy(spec: MdxDeployRequest): Promise<string> {
    const { body } = await this.call<{ task_id?: string }>('POST', '/api/vm/deploy/', spec);
    return String(body.task_id ?? '');
  }

  async powerOn(id: string, serviceLevel: string): Promise<void> {
    await this.call('POST', `/api/vm/${encodeURIComponent(id)}/power_on/`, { service_level: serviceLevel });
  }

  async shutdown(id: string): Promise<void> {
    await this.call('POST', `/api/vm/${encodeURIComponent(id)}/shutdown/`, {});
  }

  async powerOff(id: string): Promise<void> {
    await this.call('POST', `/api/vm/${encodeURIComponent(id)}/power_off/`, {});
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    if (!this.token) await this.renew('no token yet');
    else if (this.expiringSoon()) await this.renew('token about to expire').catch(() => undefined);
    let res = await this.send(method, path, body);
    if (res.status === 401) {
      await res.arrayBuffer().catch(() => undefined);
      await this.renew(`${method} ${path} answered 401`);
      res = await this.send(method, path, body);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = {};
    }
    if (!res.ok) {
      const detail = (parsed as { detail?: unknown }).detail;
      throw new MdxApiError(`mdx ${method} ${path}: ${res.status}${typeof detail === 'string' ? ` ${detail}` : ''}`, res.status);
    }
    return { status: res.status, body: parsed as T };
  }

  /** One request, waiting out rate limits (429 + Retry-After) a few times. */
  private async send(method: string, path: string, body: unknown, auth = true): Promise<Response> {
    for (let throttled = 0; ; throttled += 1) {
      if (this.pausedUntil > Date.now()) await sleep(this.pausedUntil - Date.now());
      const res = await fetch(`${this.baseUrl.replace(/\/+$/, '')}${path}`, {
        method,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(auth && this.token ? { authorization: `JWT ${this.token}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (res.status !== 429 || throttled >= MAX_THROTTLED) return res;
      await res.arrayBuffer().catch(() => undefined);
      const seconds = Math.min(MAX_RETRY_AFTER_S, Math.max(1, Number(res.headers.get('retry-after')) || 1));
      const until = Date.now() + seconds * 1000;
      // calls sent before the pause began come back 429 too: the first one sets the pause, they join it
      if (until > this.pausedUntil + 250) {
        this.pausedUntil = until;
        this.logger.warn('mdx API rate limit: every call waits as Retry-After says', { method, path, seconds });
      }
      await sleep(Math.max(0, this.pausedUntil - Date.now()));
      // A short-lived token can run out while the call waits its turn: renew it before trying again.
      if (auth && this.expiringSoon()) await this.renew('token about to expire after a rate-limit wait').catch(() => undefined);
    }
  }

  private expiringSoon(): boolean {
    const exp = this.token ? tokenExpiry(this.token) : undefined;
    if (exp === undefined) return false;
    const lifetime = exp * 1000 - this.issuedAt;
    return exp * 1000 - Date.now() < Math.max(1000, lifetime * 0.2);
  }

  /** Refreshes the token while it lives, else logs in again; one renewal at a time. */
  private renew(why: string): Promise<void> {
    this.renewing ??= this.renewNow(why).finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renewNow(why: string): Promise<void> {
    const exp = this.token ? tokenExpiry(this.token) : undefined;
    if (this.token && (exp === undefined || exp * 1000 > Date.now())) {
      const res = await this.send('POST', '/api/refresh/', { token: this.token }, false);
      const body = (await res.json().catch(() => ({}))) as { token?: unknown };
      if (res.ok && typeof body.token === 'string') {
        this.adopt(body.token);
        this.logger.info('mdx token refreshed', { why });
        return;
      }
    }
    const { username, password } = this.credentials;
    if (!username || !password)
      throw new MdxApiError(
        `mdx: the token expired or was refused (${why}) and no username/password is configured to log in again (SCALING_MDX_USERNAME, SCALING_MDX_PASSWORD)`,
        401,
      );
    const res = await this.send('POST', '/api/login/', { username, password }, false);
    const body = (await res.json().catch(() => ({}))) as { token?: unknown };
    if (!res.ok || typeof body.token !== 'string') throw new MdxApiError(`mdx login as ${username} refused: ${res.status}`, res.status);
    this.adopt(body.token);
    this.logger.info('mdx login', { username, why });
  }

  private adopt(token: string): void {
    this.token = token;
    this.issuedAt = Date.now();
  }
}
