import { readFileSync } from 'node:fs';
import { connect, ConnectionOptions, credsAuthenticator, NatsConnection, nkeyAuthenticator } from 'nats';
import { fromSeed } from 'nkeys.js';
import { ConfigError, loadConfig, NatsSecurityConfig, natsSecurityConfigSpec, natsSecurityProblems } from '@maas/config';
import { Logger } from '@maas/logging';

/** The prefix of the reply subjects a process listens on: its own, so no other identity may read its replies. */
export function inboxPrefixFor(identity: string): string {
  return `_INBOX.${identity}`;
}

function readSecretFile(key: string, file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(
      `config: ${key} names ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

/**
 * Connection options from the NATS settings (libs/config): the seed list, one way to sign in, the CA
 * and client certificate. Throws a one-line ConfigError when credentials are missing and
 * MAAS_NATS_INSECURE is not set, or when they contradict each other.
 */
export function natsConnectionOptions(url: string, security: NatsSecurityConfig = loadConfig(natsSecurityConfigSpec)): ConnectionOptions {
  const problems = natsSecurityProblems(security);
  if (problems.length) throw new ConfigError(`config: ${problems.join('; ')}`);
  const servers = url.split(',').map((u) => u.trim());
  const options: ConnectionOptions = { servers };
  if (security.NATS_NKEY) {
    const seed = readSecretFile('NATS_NKEY', security.NATS_NKEY);
    let publicKey: string;
    try {
      publicKey = fromSeed(new TextEncoder().encode(seed)).getPublicKey();
    } catch {
      throw new ConfigError(`config: NATS_NKEY names ${security.NATS_NKEY}, which holds no nkey seed`);
    }
    options.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
    options.inboxPrefix = inboxPrefixFor(publicKey);
  } else if (security.NATS_CREDS) {
    options.authenticator = credsAuthenticator(new TextEncoder().encode(readSecretFile('NATS_CREDS', security.NATS_CREDS)));
  } else if (security.NATS_USER) {
    options.user = security.NATS_USER;
    options.pass = security.NATS_PASSWORD;
    options.inboxPrefix = inboxPrefixFor(security.NATS_USER);
  } else if (!security.MAAS_NATS_INSECURE) {
    throw new ConfigError(
      `config: no NATS credentials for ${url}: set NATS_NKEY (a seed file), NATS_CREDS or NATS_USER and NATS_PASSWORD, and NATS_CA; ` +
        'MAAS_NATS_INSECURE=1 connects without (only for a development NATS without authentication)',
    );
  }
  const tls = servers.some((s) => s.startsWith('tls://')) || security.NATS_CA || security.NATS_CERT;
  if (tls) {
    options.tls = {
      ...(security.NATS_CA ? { caFile: security.NATS_CA } : {}),
      ...(security.NATS_CERT ? { certFile: security.NATS_CERT, keyFile: security.NATS_KEY } : {}),
    };
  }
  return options;
}

/** The server's refusal in one line, naming what was refused; other errors unchanged. */
export function explainConnectError(err: unknown, url: string, security: NatsSecurityConfig): Error {
  const e = err as { code?: string; message?: string };
  const who = security.NATS_NKEY
    ? `the nkey in ${security.NATS_NKEY}`
    : security.NATS_CREDS
      ? `the credentials in ${security.NATS_CREDS}`
      : security.NATS_USER
        ? `user "${security.NATS_USER}"`
        : 'an anonymous connection';
  if (e.code === 'AUTHORIZATION_VIOLATION' || /authorization violation/i.test(e.message ?? '')) {
    return new Error(`NATS at ${url} refused ${who} (authorization violation): check the credentials, or whether they were revoked`);
  }
  if (/tls|certificate|self.signed|secure connection/i.test(`${e.code ?? ''} ${e.message ?? ''}`)) {
    return new Error(`NATS at ${url}: TLS failed (${e.message}): NATS_CA must name the CA that signed the server's certificate`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** Connects with unlimited reconnects and logs every status change of the connection. */
export async function connectNats(
  url: string,
  name: string,
  logger: Logger,
  security: NatsSecurityConfig = loadConfig(natsSecurityConfigSpec),
): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      ...natsConnectionOptions(url, security),
      name,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      // A server that vanished without closing the connection (a host lost) is noticed within ~10 s and
      // the client moves to another in the seed list, inside the retry window of JetStream calls.
      pingInterval: 5000,
      maxPingOut: 2,
      // Capturing a stack per request costs measurable CPU on the gateway's path.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw explainConnectError(err, url, security);
  }
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'pingTimer') continue;
      const level = status.type === 'disconnect' || status.type === 'error' ? 'warn' : 'info';
      // A refused publish or subscription arrives here, with what was refused.
      const refused = (status as { permissionContext?: { operation: string; subject: string } }).permissionContext;
      logger[level]('nats connection status', {
        status: status.type,
        data: String(status.data ?? ''),
        ...(refused ? { refused: `${refused.operation} ${refused.subject}` } : {}),
      });
    }
  })();
  return nc;
}

/** Where replies to this connection's requests go: `_INBOX.<identity>` with credentials, `_INBOX` without. */
export function inboxPrefixOf(nc: NatsConnection): string | undefined {
  return (nc as unknown as { options?: ConnectionOptions }).options?.inboxPrefix;
}
