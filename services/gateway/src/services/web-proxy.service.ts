import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { Logger } from '@maas/logging';
import { errorBody } from '@maas/platform';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { forwardedHost, withoutOwnCookies } from '../policy/proxy-headers';
import { cookieValue, SessionCache, SessionVerdict } from '../policy/session-cache';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { forwardableHeaders, HttpProxyRepository, ProxyTarget } from '../repositories/http-proxy.repository';
import { SessionRepository } from '../repositories/session.repository';
import { NetworkPolicy } from './network-policy';

const proxied = new Counter({
  name: 'maas_gateway_proxied_requests_total',
  help: 'Requests proxied to auth and Open WebUI, by target and outcome',
  labelNames: ['target', 'outcome'],
});

/** Paths the gateway keeps for itself (Nest): never handed to Open WebUI. */
const OWN = ['/health', '/metrics'];
const USER_HEADER = /^x-maas-user-/;

type Route = { target: 'auth'; origin: string; path: string } | { target: 'webui'; origin: string; path: string } | undefined;

/**
 * The gateway as the one exposed host: `/auth/*` and `/portal*` go to auth unchanged; Open WebUI
 * only to signed-in users, who are named to it in trusted headers no client can set itself.
 */
@Injectable()
export class WebProxyService {
  private readonly sessions: SessionCache;
  private readonly pending = new Map<string, Promise<SessionVerdict | undefined>>();
  private readonly webuiPrefix: string;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly proxy: HttpProxyRepository,
    private readonly sessionRepository: SessionRepository,
    private readonly network: NetworkPolicy,
    private readonly logger: Logger,
  ) {
    this.sessions = new SessionCache({
      ttlMs: config.GATEWAY_SESSION_CACHE_TTL,
      negativeTtlMs: config.GATEWAY_SESSION_NEGATIVE_TTL,
      maxEntries: 50_000,
    });
    this.webuiPrefix = config.GATEWAY_WEBUI_PATH.replace(/\/+$/, '');
  }

  /** Where a path goes, or undefined when the gateway itself (Nest) answers it. */
  route(url: string): Route {
    const path = url.split('?', 1)[0];
    const auth = this.config.GATEWAY_AUTH_URL;
    if (auth && (path.startsWith('/auth/') || path === '/auth' || path === '/portal' || path.startsWith('/portal/')))
      return { target: 'auth', origin: auth, path: url };
    const webui = this.config.GATEWAY_WEBUI_URL;
    if (!webui || OWN.includes(path)) return undefined;
    const p = this.webuiPrefix;
    if (p === '') return { target: 'webui', origin: webui, path: url };
    if (path === p || path.startsWith(`${p}/`)) return { target: 'webui', origin: webui, path: url.slice(p.length) || '/' };
    return undefined;
  }

  handle(route: NonNullable<Route>, req: IncomingMessage, res: ServerResponse): void {
    const fail = (status: number, message: string, code: string, headers: OutgoingHttpHeaders = {}) => {
      proxied.inc({ target: route.target, outcome: String(status) });
      if (res.headersSent) return void res.destroy();
      const text = JSON.stringify(errorBody(status, message, code));
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    const onError = (message: string) => {
      this.logger.warn('proxied service unreachable', { target: route.target, message });
      fail(502, message, 'upstream_unreachable');
    };
    if (route.target === 'auth') {
      proxied.inc({ target: 'auth', outcome: 'forwarded' });
      return this.proxy.forward(req, res, this.target(req, route, undefined), onError);
    }
    void this.user(req).then((verdict) => {
      if (verdict === undefined)
        return fail(503, 'the sign-in service cannot be reached; try again shortly', 'auth_unavailable', { 'retry-after': '2' });
      if (!verdict.valid) {
        req.resume();
        if (isPageLoad(req)) {
          proxied.inc({ target: 'webui', outcome: '303' });
          res.writeHead(303, { location: `/auth/saml/login?next=${encodeURIComponent(req.url ?? '/')}`, 'content-length': 0 });
          return void res.end();
        }
        return fail(401, 'sign in first: no valid session cookie', 'session_required');
      }
      proxied.inc({ target: 'webui', outcome: 'forwarded' });
      this.proxy.forward(req, res, this.target(req, route, verdict), onError);
    });
  }

  /** A websocket for Open WebUI (`/ws/socket.io`), for signed-in users only. */
  upgrade(route: NonNullable<Route>, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    if (route.target === 'auth') return void socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    void this.user(req).then((verdict) => {
      if (!verdict?.valid)
        return void socket.end(
          `HTTP/1.1 ${verdict ? '401 Unauthorized' : '503 Service Unavailable'}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
        );
      this.proxy.upgrade(req, socket, head, this.target(req, route, verdict));
    });
  }

  private target(req: IncomingMessage, route: NonNullable<Route>, verdict: SessionVerdict | undefined): ProxyTarget {
    const headers = forwardableHeaders(req);
    for (const name of Object.keys(headers)) if (USER_HEADER.test(name)) delete headers[name];
    const peer = req.socket.remoteAddress ?? '';
    const given = req.headers['x-forwarded-for'];
    const trustedPeer = this.network.isTrustedProxy(peer);
    // Appended, as every proxy does; believed downstream only as far as each hop trusts the previous.
    headers['x-forwarded-for'] = given ? `${Array.isArray(given) ? given.join(', ') : given}, ${plain(peer)}` : plain(peer);
    const proto = req.headers['x-forwarded-proto'];
    headers['x-forwarded-proto'] =
      trustedPeer && typeof proto === 'string' ? proto : 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
    const host = forwardedHost(req.headers['x-forwarded-host'], req.headers.host, trustedPeer);
    if (host) headers['x-forwarded-host'] = host;
    else delete headers['x-forwarded-host'];
    if (route.target === 'webui') {
      // Open WebUI is another application on this origin: it never sees the portal's session or any other cookie of ours.
      const cookie = withoutOwnCookies(req.headers.cookie, this.config.GATEWAY_SESSION_COOKIE);
      if (cookie) headers.cookie = cookie;
      else delete headers.cookie;
    }
    if (verdict?.valid) {
      headers['x-maas-user-email'] = verdict.user.email;
      headers['x-maas-user-name'] = encodeURIComponent(verdict.user.displayName ?? verdict.user.email);
      headers['x-maas-user-roles'] = verdict.user.roles.join(',');
    }
    return { origin: route.origin, path: route.path, headers };
  }

  /** The session's user (cached briefly), `{valid:false}` without one, undefined when auth cannot be asked. */
  private async user(req: IncomingMessage): Promise<SessionVerdict | undefined> {
    const token = cookieValue(req.headers.cookie, this.config.GATEWAY_SESSION_COOKIE);
    if (!token || token.length > 256) return { valid: false };
    const cached = this.sessions.get(token, this.clock.now());
    if (cached) return cached;
    let p = this.pending.get(token);
    if (!p) {
      p = this.ask(token).finally(() => this.pending.delete(token));
      this.pending.set(token, p);
    }
    return p;
  }

  private async ask(token: string): Promise<SessionVerdict | undefined> {
    try {
      const reply = await this.sessionRepository.verify(token, this.config.GATEWAY_KEY_VERIFY_TIMEOUT);
      const verdict: SessionVerdict =
        reply.valid && reply.user
          ? {
              valid: true,
              user: { email: reply.user.email, displayName: reply.user.displayName ?? null, roles: reply.user.roles },
              expiresAt: reply.expiresAt ? Date.parse(reply.expiresAt) : undefined,
            }
          : { valid: false };
      this.sessions.store(token, verdict, this.clock.now());
      return verdict;
    } catch (err) {
      this.logger.warn('auth.verify-session failed', { error: (err as Error).message });
      return undefined;
    }
  }
}

/** A browser navigating (answered with a redirect to sign in) rather than a script (answered 401). */
function isPageLoad(req: IncomingMessage): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && /text\/html/.test(String(req.headers.accept ?? ''));
}

const plain = (a: string) => (a.startsWith('::ffff:') ? a.slice(7) : a);
