import { randomBytes } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { ConfigError } from '@maas/config';
import { Logger } from '@maas/logging';
import { errorBody } from '@maas/platform';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { forwardedHost, withoutOwnCookies } from '../policy/proxy-headers';
import { cookieValue, SessionCache, SessionVerdict } from '../policy/session-cache';
import {
  CHAT_HANDOFF_PATH,
  chatCookie,
  HANDOFF_CODE_TTL_MS,
  PORTAL_HANDOFF_PATH,
  RedeemedCodes,
  safeNext,
  sameHost,
  signHandoff,
  verifyHandoff,
} from '../policy/webui-handoff';
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
/** The chat host's own cookies: its session, and the state binding a hand-off to the browser that asked for it. */
const CHAT_COOKIE = 'maas_chat';
const STATE_COOKIE = 'maas_chat_state';
const STATE_TTL_SECONDS = 300;
const STATE = /^[A-Za-z0-9_-]{22,64}$/;

type Route =
  | { target: 'auth'; origin: string; path: string }
  /** `chat`: on GATEWAY_WEBUI_HOST, signed in by the chat host's own cookie; `portal`: on the portal's host, by its session. */
  | { target: 'webui'; origin: string; path: string; host: 'portal' | 'chat' }
  /** Open WebUI's paths asked for on the portal's host while it has a hostname of its own. */
  | { target: 'redirect'; location: string }
  | { target: 'handoff-start'; path: string }
  | { target: 'handoff-finish'; path: string }
  | undefined;

/**
 * The gateway as the one exposed host: `/auth/*` and `/portal*` go to auth unchanged; Open WebUI
 * only to signed-in users, who are named to it in trusted headers no client can set itself. With
 * GATEWAY_WEBUI_HOST, Open WebUI is a separate origin: the portal's host-only session cookie never
 * reaches it, and a signed-in user is handed over by a one-time code (policy/webui-handoff.ts).
 */
@Injectable()
export class WebProxyService {
  private readonly sessions: SessionCache;
  private readonly pending = new Map<string, Promise<SessionVerdict | undefined>>();
  private readonly webuiPrefix: string;
  /** `https://chat.…`: the chat host's origin, when Open WebUI has a hostname of its own. */
  private readonly chatOrigin?: string;
  private readonly handoffSecret: Buffer;
  private readonly redeemed = new RedeemedCodes();

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
    if (config.GATEWAY_WEBUI_HOST) {
      if (!config.GATEWAY_WEBUI_URL) throw new ConfigError('GATEWAY_WEBUI_HOST needs GATEWAY_WEBUI_URL (the Open WebUI it serves)');
      if (!config.GATEWAY_PUBLIC_URL)
        throw new ConfigError('GATEWAY_WEBUI_HOST needs GATEWAY_PUBLIC_URL (the portal origin the chat host hands browsers over from)');
      if (sameHost(new URL(config.GATEWAY_PUBLIC_URL).host, config.GATEWAY_WEBUI_HOST))
        throw new ConfigError('GATEWAY_WEBUI_HOST must differ from the host of GATEWAY_PUBLIC_URL');
      this.chatOrigin = `${new URL(config.GATEWAY_PUBLIC_URL).protocol}//${config.GATEWAY_WEBUI_HOST}`;
    }
    this.handoffSecret = config.GATEWAY_WEBUI_HANDOFF_SECRET ? Buffer.from(config.GATEWAY_WEBUI_HANDOFF_SECRET) : randomBytes(32);
    if (this.chatOrigin && !config.GATEWAY_WEBUI_HANDOFF_SECRET)
      logger.warn('GATEWAY_WEBUI_HANDOFF_SECRET is not set: chat hand-offs are signed with a key of this process only', {
        consequence: 'other gateways behind the chat host refuse its codes and cookies; chat sign-ins end when it restarts',
      });
  }

  /** Where a request goes (by its host and path), or undefined when the gateway itself (Nest) answers it. */
  route(req: IncomingMessage): Route {
    const url = req.url ?? '';
    const path = url.split('?', 1)[0];
    const webui = this.config.GATEWAY_WEBUI_URL;
    if (this.chatOrigin && webui && this.onChatHost(req)) {
      // The chat host is Open WebUI's alone: no auth, no portal (their cookies would be set for it).
      if (OWN.includes(path)) return undefined;
      if (path === CHAT_HANDOFF_PATH) return { target: 'handoff-finish', path: url };
      return { target: 'webui', origin: webui, path: url, host: 'chat' };
    }
    const auth = this.config.GATEWAY_AUTH_URL;
    if (auth && (path.startsWith('/auth/') || path === '/auth' || path === '/portal' || path.startsWith('/portal/')))
      return { target: 'auth', origin: auth, path: url };
    if (!webui || OWN.includes(path)) return undefined;
    if (this.chatOrigin && path === PORTAL_HANDOFF_PATH) return { target: 'handoff-start', path: url };
    const p = this.webuiPrefix;
    const rest = p === '' ? url : path === p || path.startsWith(`${p}/`) ? url.slice(p.length) || '/' : undefined;
    if (rest === undefined) return undefined;
    if (this.chatOrigin) return { target: 'redirect', location: `${this.chatOrigin}${rest}` };
    return { target: 'webui', origin: webui, path: rest, host: 'portal' };
  }

  private onChatHost(req: IncomingMessage): boolean {
    const host = forwardedHost(
      req.headers['x-forwarded-host'],
      req.headers.host,
      this.network.isTrustedProxy(req.socket.remoteAddress ?? ''),
    );
    return sameHost(host, this.config.GATEWAY_WEBUI_HOST!);
  }

  /** Whether the browser came over https: the socket, or a trusted proxy's X-Forwarded-Proto. */
  private https(req: IncomingMessage): boolean {
    const proto = req.headers['x-forwarded-proto'];
    if (this.network.isTrustedProxy(req.socket.remoteAddress ?? '') && typeof proto === 'string') return proto === 'https';
    return 'encrypted' in req.socket && Boolean(req.socket.encrypted);
  }

  handle(route: NonNullable<Route>, req: IncomingMessage, res: ServerResponse): void {
    const target = route.target === 'auth' ? 'auth' : 'webui';
    const fail = (status: number, message: string, code: string, headers: OutgoingHttpHeaders = {}) => {
      proxied.inc({ target, outcome: String(status) });
      if (res.headersSent) return void res.destroy();
      const text = JSON.stringify(errorBody(status, message, code));
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    const redirect = (status: number, location: string, headers: OutgoingHttpHeaders = {}) => {
      req.resume();
      proxied.inc({ target, outcome: String(status) });
      res.writeHead(status, { location, 'content-length': 0, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', ...headers });
      res.end();
    };
    const onError = (message: string) => {
      this.logger.warn('proxied service unreachable', { target, message });
      fail(502, message, 'upstream_unreachable');
    };
    switch (route.target) {
      case 'auth':
        proxied.inc({ target: 'auth', outcome: 'forwarded' });
        return this.proxy.forward(req, res, this.target(req, route, undefined), onError);
      case 'redirect':
        return redirect(307, route.location);
      case 'handoff-start':
        return void this.startHandoff(req, route.path, redirect, fail);
      case 'handoff-finish':
        return this.finishHandoff(req, route.path, redirect, fail);
    }
    void this.verdict(route, req).then((verdict) => {
      if (verdict === undefined)
        return fail(503, 'the sign-in service cannot be reached; try again shortly', 'auth_unavailable', { 'retry-after': '2' });
      if (!verdict.valid) {
        if (isPageLoad(req)) {
          if (route.host === 'portal') return redirect(303, `/auth/saml/login?next=${encodeURIComponent(req.url ?? '/')}`);
          // The chat host asks the portal for a hand-off, bound to this browser by a state cookie.
          const state = randomBytes(24).toString('base64url');
          const next = encodeURIComponent(safeNext(req.url));
          return redirect(303, `${this.config.GATEWAY_PUBLIC_URL}${PORTAL_HANDOFF_PATH}?state=${state}&next=${next}`, {
            'set-cookie': chatCookie(STATE_COOKIE, state, this.https(req), STATE_TTL_SECONDS),
          });
        }
        req.resume();
        return fail(401, 'sign in first: no valid session cookie', 'session_required');
      }
      proxied.inc({ target: 'webui', outcome: 'forwarded' });
      this.proxy.forward(req, res, this.target(req, route, verdict), onError);
    });
  }

  /**
   * On the portal's host: the signed-in user gets a one-time code for the chat host (bound to the state
   * the chat host gave the browser); signed out, they sign in first and come back here.
   */
  private async startHandoff(
    req: IncomingMessage,
    url: string,
    redirect: (status: number, location: string) => void,
    fail: (status: number, message: string, code: string, headers?: OutgoingHttpHeaders) => void,
  ): Promise<void> {
    const query = new URL(url, 'http://x').searchParams;
    const next = safeNext(query.get('next'));
    const state = query.get('state') ?? '';
    // Without the chat host's state the browser starts there: a code must go back to the browser that asked for it.
    if (!STATE.test(state)) return redirect(303, `${this.chatOrigin}${next}`);
    const verdict = await this.user(req);
    if (verdict === undefined)
      return fail(503, 'the sign-in service cannot be reached; try again shortly', 'auth_unavailable', { 'retry-after': '2' });
    if (!verdict.valid) return redirect(303, `/auth/saml/login?next=${encodeURIComponent(url)}`);
    const now = this.clock.now();
    const code = signHandoff(
      {
        purpose: 'code',
        user: verdict.user,
        exp: now + HANDOFF_CODE_TTL_MS,
        nonce: randomBytes(16).toString('base64url'),
        state,
        ...(verdict.expiresAt !== undefined ? { sessionExp: verdict.expiresAt } : {}),
      },
      this.handoffSecret,
    );
    redirect(303, `${this.chatOrigin}${CHAT_HANDOFF_PATH}?code=${code}&next=${encodeURIComponent(next)}`);
  }

  /** On the chat host: a valid, unused code from this browser's hand-off becomes the chat host's own cookie. */
  private finishHandoff(
    req: IncomingMessage,
    url: string,
    redirect: (status: number, location: string, headers?: OutgoingHttpHeaders) => void,
    fail: (status: number, message: string, code: string) => void,
  ): void {
    req.resume();
    const query = new URL(url, 'http://x').searchParams;
    const now = this.clock.now();
    const claims = verifyHandoff(query.get('code') ?? '', this.handoffSecret, 'code', now);
    const state = this.cookie(req, STATE_COOKIE);
    if (!claims || !state || claims.state !== state || !this.redeemed.redeem(claims.nonce, claims.exp, now))
      return fail(400, 'the sign-in hand-off is invalid, expired or already used; open the chat again', 'handoff_invalid');
    const exp = Math.min(now + this.config.GATEWAY_WEBUI_SESSION_TTL, claims.sessionExp ?? Infinity);
    const token = signHandoff(
      { purpose: 'chat', user: claims.user, exp, nonce: randomBytes(16).toString('base64url') },
      this.handoffSecret,
    );
    const https = this.https(req);
    redirect(303, safeNext(query.get('next')), {
      'set-cookie': [chatCookie(CHAT_COOKIE, token, https, Math.floor((exp - now) / 1000)), chatCookie(STATE_COOKIE, '', https, 0)],
    });
  }

  /** A cookie of the gateway's: `__Host-<name>` as set over https, else `<name>`. */
  private cookie(req: IncomingMessage, name: string): string | undefined {
    return cookieValue(req.headers.cookie, `__Host-${name}`) ?? cookieValue(req.headers.cookie, name);
  }

  /** Who is asking for Open WebUI: on the chat host its own cookie says, on the portal's host the portal session. */
  private async verdict(route: { host: 'portal' | 'chat' }, req: IncomingMessage): Promise<SessionVerdict | undefined> {
    if (route.host === 'portal') return this.user(req);
    const claims = verifyHandoff(this.cookie(req, CHAT_COOKIE) ?? '', this.handoffSecret, 'chat', this.clock.now());
    return claims ? { valid: true, user: claims.user, expiresAt: claims.exp } : { valid: false };
  }

  /** A websocket for Open WebUI (`/ws/socket.io`), for signed-in users only. */
  upgrade(route: NonNullable<Route>, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    if (route.target !== 'webui') return void socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    void this.verdict(route, req).then((verdict) => {
      if (!verdict?.valid)
        return void socket.end(
          `HTTP/1.1 ${verdict ? '401 Unauthorized' : '503 Service Unavailable'}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
        );
      this.proxy.upgrade(req, socket, head, this.target(req, route, verdict));
    });
  }

  private target(
    req: IncomingMessage,
    route: { target: 'auth' | 'webui'; origin: string; path: string },
    verdict: SessionVerdict | undefined,
  ): ProxyTarget {
    const headers = forwardableHeaders(req);
    for (const name of Object.keys(headers)) if (USER_HEADER.test(name)) delete headers[name];
    const peer = req.socket.remoteAddress ?? '';
    const given = req.headers['x-forwarded-for'];
    const trustedPeer = this.network.isTrustedProxy(peer);
    // Appended, as every proxy does; believed downstream only as far as each hop trusts the previous.
    headers['x-forwarded-for'] = given ? `${Array.isArray(given) ? given.join(', ') : given}, ${plain(peer)}` : plain(peer);
    headers['x-forwarded-proto'] = this.https(req) ? 'https' : 'http';
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
    // `__Host-maas_session` as auth sets it over https, `maas_session` over plain http.
    const token = this.cookie(req, this.config.GATEWAY_SESSION_COOKIE);
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
