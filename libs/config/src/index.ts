/**
 * Typed configuration read from the environment and validated at start-up. Every problem is reported
 * at once, each naming the variable: `config: NATS_URL must be a nats:// URL, got "localhost"`.
 */
export interface Field<T> {
  readonly describe: string;
  parse(raw: string | undefined, key: string): T;
}

export class ConfigError extends Error {}

function fail(key: string, expectation: string, raw: string | undefined): never {
  throw new ConfigError(`${key} must be ${expectation}, got ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`);
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `30s`, `5m`, `3h`, `7d` (a bare number is seconds) into milliseconds. */
export function parseDuration(raw: string): number | undefined {
  const m = DURATION.exec(raw.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] ?? 's'];
}

export const env = {
  string(fallback?: string): Field<string> {
    return {
      describe: 'a string',
      parse: (raw, key) => (raw !== undefined && raw !== '' ? raw : (fallback ?? fail(key, 'set', raw))),
    };
  },
  optionalString(): Field<string | undefined> {
    return { describe: 'a string (optional)', parse: (raw) => (raw === '' ? undefined : raw) };
  },
  int(fallback: number | undefined, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): Field<number> {
    return {
      describe: `an integer in [${min}, ${max}]`,
      parse(raw, key) {
        if (raw === undefined || raw === '') return fallback ?? fail(key, 'set', raw);
        const n = Number(raw);
        if (!Number.isInteger(n) || n < min || n > max) fail(key, `an integer between ${min} and ${max}`, raw);
        return n;
      },
    };
  },
  number(fallback: number | undefined, min = -Infinity, max = Infinity): Field<number> {
    return {
      describe: `a number in [${min}, ${max}]`,
      parse(raw, key) {
        if (raw === undefined || raw === '') return fallback ?? fail(key, 'set', raw);
        const n = Number(raw);
        if (!Number.isFinite(n) || n < min || n > max) fail(key, `a number between ${min} and ${max}`, raw);
        return n;
      },
    };
  },
  bool(fallback: boolean): Field<boolean> {
    return {
      describe: 'true or false',
      parse(raw, key) {
        if (raw === undefined || raw === '') return fallback;
        if (/^(1|true|yes|on)$/i.test(raw)) return true;
        if (/^(0|false|no|off)$/i.test(raw)) return false;
        return fail(key, 'true or false', raw);
      },
    };
  },
  /** Milliseconds from `30s`, `5m`, … */
  duration(fallback: string): Field<number> {
    return {
      describe: 'a duration like 500ms, 30s, 5m, 3h, 7d',
      parse(raw, key) {
        const ms = parseDuration(raw === undefined || raw === '' ? fallback : raw);
        return ms ?? fail(key, 'a duration like 500ms, 30s, 5m, 3h', raw);
      },
    };
  },
  url(fallback: string | undefined, protocols: string[]): Field<string> {
    return {
      describe: `a ${protocols.join(' or ')} URL`,
      parse(raw, key) {
        const value = raw === undefined || raw === '' ? fallback : raw;
        if (value === undefined) return fail(key, 'set', raw);
        let url: URL;
        try {
          url = new URL(value);
        } catch {
          return fail(key, `a ${protocols.join(' or ')} URL`, raw);
        }
        if (!protocols.includes(url.protocol.replace(/:$/, ''))) fail(key, `a ${protocols.join(' or ')} URL`, raw);
        return value;
      },
    };
  },
  /** A comma-separated list of URLs (a NATS seed list), each checked; returned as given, trimmed. */
  urlList(fallback: string | undefined, protocols: string[]): Field<string> {
    const one = env.url(undefined, protocols);
    return {
      describe: `a comma-separated list of ${protocols.join(' or ')} URLs`,
      parse(raw, key) {
        const value = raw === undefined || raw.trim() === '' ? fallback : raw;
        if (value === undefined) return fail(key, 'set', raw);
        const urls = value.split(',').map((u) => u.trim());
        for (const url of urls) {
          try {
            one.parse(url, key);
          } catch {
            return fail(key, `a comma-separated list of ${protocols.join(' or ')} URLs`, raw);
          }
        }
        return urls.join(',');
      },
    };
  },
  oneOf<T extends string>(values: readonly T[], fallback: T): Field<T> {
    return {
      describe: `one of ${values.join(', ')}`,
      parse(raw, key) {
        const value = raw === undefined || raw === '' ? fallback : raw;
        if (!values.includes(value as T)) fail(key, `one of ${values.join(', ')}`, raw);
        return value as T;
      },
    };
  },
};

export type ConfigSpec<T> = { [K in keyof T]: Field<T[K]> };

/** Reads every key of `spec` from `source`; throws one ConfigError listing every bad key. */
export function loadConfig<T>(spec: ConfigSpec<T>, source: NodeJS.ProcessEnv = process.env): T {
  const out = {} as T;
  const problems: string[] = [];
  for (const key of Object.keys(spec) as (keyof T & string)[]) {
    try {
      out[key] = spec[key].parse(source[key], key);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length) throw new ConfigError(`config: ${problems.join('; ')}`);
  return out;
}

/** What every service reads. */
export interface PlatformConfig {
  NATS_URL: string;
  MAAS_NAMESPACE: string;
  LOG_LEVEL: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  OTEL_EXPORTER_OTLP_ENDPOINT: string | undefined;
}

export const platformConfigSpec: ConfigSpec<PlatformConfig> = {
  NATS_URL: env.urlList('nats://127.0.0.1:4222', ['nats', 'tls']),
  MAAS_NAMESPACE: env.string('maas'),
  LOG_LEVEL: env.oneOf(['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
  OTEL_EXPORTER_OTLP_ENDPOINT: env.optionalString(),
};

/**
 * How a process proves who it is to NATS and checks the server: one of a user and password, an nkey
 * seed file or a JWT .creds file, plus the CA that signed the server's certificate and, where the
 * server asks for one, a client certificate. Without any of them a process connects only when
 * MAAS_NATS_INSECURE is set (a development NATS without authentication, as the tests' shared one).
 */
export interface NatsSecurityConfig {
  NATS_USER: string | undefined;
  NATS_PASSWORD: string | undefined;
  /** A file holding an nkey seed (`SU…`): the server keeps only the public key. */
  NATS_NKEY: string | undefined;
  /** A NATS .creds file (user JWT and seed), for a site running decentralised JWT accounts. */
  NATS_CREDS: string | undefined;
  NATS_CA: string | undefined;
  NATS_CERT: string | undefined;
  NATS_KEY: string | undefined;
  MAAS_NATS_INSECURE: boolean;
}

export const natsSecurityConfigSpec: ConfigSpec<NatsSecurityConfig> = {
  NATS_USER: env.optionalString(),
  NATS_PASSWORD: env.optionalString(),
  NATS_NKEY: env.optionalString(),
  NATS_CREDS: env.optionalString(),
  NATS_CA: env.optionalString(),
  NATS_CERT: env.optionalString(),
  NATS_KEY: env.optionalString(),
  MAAS_NATS_INSECURE: env.bool(false),
};

/** Settings that contradict each other, each named; empty when they are consistent. */
export function natsSecurityProblems(c: NatsSecurityConfig): string[] {
  const problems: string[] = [];
  const ways = [c.NATS_USER && 'NATS_USER', c.NATS_NKEY && 'NATS_NKEY', c.NATS_CREDS && 'NATS_CREDS'].filter(Boolean);
  if (ways.length > 1) problems.push(`${ways.join(', ')} are set: give one way to sign in`);
  if (c.NATS_PASSWORD && !c.NATS_USER) problems.push('NATS_PASSWORD is set without NATS_USER');
  if (c.NATS_USER && !c.NATS_PASSWORD) problems.push('NATS_USER is set without NATS_PASSWORD');
  if (!!c.NATS_CERT !== !!c.NATS_KEY) problems.push('NATS_CERT and NATS_KEY go together');
  return problems;
}

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/maas';

/** How JetStream keeps the platform's streams and buckets: 1 on a single NATS, 3 (or 5) on a cluster. */
export interface JetStreamConfig {
  MAAS_JS_REPLICAS: number;
}

export const jetStreamConfigSpec: ConfigSpec<JetStreamConfig> = {
  // NATS replicates a stream on at most 5 servers; an even count buys no extra tolerance.
  MAAS_JS_REPLICAS: {
    describe: 'the replica count of JetStream streams and buckets: 1, 3 or 5',
    parse(raw, key) {
      const value = raw === undefined || raw === '' ? 1 : Number(raw);
      if (value !== 1 && value !== 3 && value !== 5) fail(key, '1, 3 or 5 (the replica count of JetStream streams and buckets)', raw);
      return value;
    },
  },
};
