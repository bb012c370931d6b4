import { ConfigError, env, loadConfig } from '@maas/config';
import { BatchConcurrency, DEFAULT_ROUTING_PRESET, parseBatchConcurrency, routingPresets } from '@maas/routing';
import { BatchObjectivesConfig, parseBatchObjectives } from './policy/batch-controller';
import { parseTokenizerMap, TokenizerMap } from './policy/prompt-tokens';

const PRESETS = Object.keys(routingPresets) as (keyof typeof routingPresets)[];

/** Every knob of the gateway, read once at start-up; a bad value fails the start naming the variable. */
export const gatewayConfigSpec = {
  /** Largest request body accepted on /v1 (base64 images and audio travel inside JSON). */
  GATEWAY_MAX_BODY_BYTES: env.int(32 * 1024 * 1024, 1024),
  /** Largest body of `/v1/ocr` (a 20 MiB image base64-encoded, plus the other fields). */
  GATEWAY_MAX_BODY_OCR: env.int(28 * 1024 * 1024, 1024),
  /** Largest body of `/v1/audio/transcriptions`: 160 MiB carries about an hour of 16 kHz WAV as base64 JSON. */
  GATEWAY_MAX_BODY_TRANSCRIPTION: env.int(160 * 1024 * 1024, 1024),
  /** Whole `/v1/ocr` request; its answer is not streamed, so this also bounds the wait for the first byte. */
  GATEWAY_TOTAL_TIMEOUT_OCR: env.duration('30m'),
  /** Whole transcription, first byte included: tens of minutes of audio take a while on CPU. */
  GATEWAY_TOTAL_TIMEOUT_TRANSCRIPTION: env.duration('3h'),
  /** How long a request waits for capacity that is starting (or recently served the model) before 503. */
  GATEWAY_HOLD_TIMEOUT: env.duration('30s'),
  /** A model served within this window counts as "known": requests for it are held, not answered 404. */
  GATEWAY_MODEL_MEMORY: env.duration('10m'),
  /** Routing preset of @maas/routing. */
  GATEWAY_ROUTING: env.oneOf(PRESETS, DEFAULT_ROUTING_PRESET),
  /** A worker the gateway has not heard from for this long is dropped from the local replica. */
  GATEWAY_WORKER_EXPIRY: env.duration('5s'),
  /** After a connection failure, routing avoids the worker this long. */
  GATEWAY_WORKER_FAILURE_BACKOFF: env.duration('10s'),
  /** Attempts per request across workers when connecting fails before any response byte. */
  GATEWAY_UPSTREAM_ATTEMPTS: env.int(3, 1, 10),
  GATEWAY_CONNECT_TIMEOUT: env.duration('5s'),
  /** Shared with the workers: each launched runtime demands a key derived from it and its worker id, which the gateway sends. */
  MAAS_WORKER_KEY_SECRET: env.optionalString(),
  /** Until the runtime sends response headers (streams: the start of the stream; non-streams: bounded by the total). */
  GATEWAY_FIRST_BYTE_TIMEOUT: env.duration('10m'),
  /** Longest silence between two chunks of a response. */
  GATEWAY_IDLE_TIMEOUT: env.duration('5m'),
  /** Whole request, including generation: long requests are allowed. */
  GATEWAY_TOTAL_TIMEOUT: env.duration('30m'),
  /** Valid keys are re-checked with key-registry after this long. */
  GATEWAY_KEY_CACHE_TTL: env.duration('30s'),
  /** Invalid keys are answered locally for this long. */
  GATEWAY_KEY_NEGATIVE_TTL: env.duration('5s'),
  /** Failed key checks one client address may make a minute; past them it gets 429 until the minute is over. */
  GATEWAY_AUTH_FAILURES_PER_MINUTE: env.int(60, 1),
  /** When key-registry cannot be reached, a key validated within this window is still accepted. */
  GATEWAY_KEY_STALE_GRACE: env.duration('5m'),
  GATEWAY_KEY_VERIFY_TIMEOUT: env.duration('2s'),
  /** Usage events waiting for NATS are kept up to this many; beyond, the oldest are dropped (and logged). */
  GATEWAY_USAGE_BUFFER: env.int(100_000, 100),
  /**
   * While usage events cannot be stored (NATS away), they are also written here, one file per gateway
   * process; a gateway that starts takes over the files of gateways that are gone. Empty: memory only.
   */
  GATEWAY_USAGE_SPOOL_DIR: env.string('var/gateway-usage-spool'),
  /** On shutdown, in-flight requests get this long to finish before they are cut. */
  GATEWAY_SHUTDOWN_GRACE: env.duration('8s'),
  /** Batch API: where uploaded input and generated output files are kept. */
  GATEWAY_FILE_STORE_DIR: env.string('var/gateway-files'),
  /** Largest file accepted by POST /v1/files. */
  GATEWAY_FILE_MAX_BYTES: env.int(200 * 1024 * 1024, 1024),
  /** Per user: bytes of all their batch files (inputs and outputs); an upload beyond it is refused until files are deleted. */
  GATEWAY_FILE_QUOTA_BYTES: env.int(10 * 1024 * 1024 * 1024, 1024),
  /** Per key: estimated input tokens of its queued and running batches; a new batch beyond it is refused (429). */
  GATEWAY_BATCH_MAX_PENDING_TOKENS: env.int(50_000_000, 1),
  /** Whether this gateway runs batch requests from the work queue (any number of gateways may). */
  GATEWAY_BATCH_EXECUTOR: env.bool(true),
  /** Share of each worker's capacity kept free of batch work, so interactive requests keep their latency. */
  GATEWAY_BATCH_RESERVE: env.number(0.25, 0, 1),
  /**
   * Ready workers per model kept free of batch work for interactive requests (more while interactive
   * requests in flight fill them), when the model has more workers than that; the others take the batch.
   * 0: batch work may go to every worker's spare slots. Unset: 0 under adaptive batch control (the
   * controller keeps interactive latency), 1 under static control.
   */
  GATEWAY_INTERACTIVE_LANE: {
    describe: 'an integer from 0 to 1000 (optional)',
    parse(raw: string | undefined, key: string): number | undefined {
      if (raw === undefined || raw.trim() === '') return undefined;
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0 || n > 1000)
        throw new ConfigError(`${key} must be an integer from 0 to 1000, got ${JSON.stringify(raw)}`);
      return n;
    },
  },
  /**
   * How much batch work each worker takes: `adaptive` (a controller per model raises it while the interactive
   * objectives of GATEWAY_BATCH_OBJECTIVES hold and cuts it when they are at risk, with GATEWAY_BATCH_CONCURRENCY
   * as its ceiling) or `static` (GATEWAY_BATCH_CONCURRENCY, GATEWAY_BATCH_RESERVE and the lanes alone).
   */
  GATEWAY_BATCH_CONTROL: env.oneOf(['adaptive', 'static'] as const, 'adaptive'),
  /**
   * Interactive latency objectives per model the adaptive batch control keeps, as JSON:
   * `{"MODEL": {"ttftP99Ms": 1500, "tpotP99Ms": 80}, "*": {…}}`. Unset: TTFT p99 1.5 s and TPOT p99 80 ms.
   */
  GATEWAY_BATCH_OBJECTIVES: {
    describe: 'a JSON object of model → {"ttftP99Ms", "tpotP99Ms"} (optional)',
    parse(raw: string | undefined, key: string): BatchObjectivesConfig {
      try {
        return parseBatchObjectives(raw ?? '', key);
      } catch (err) {
        throw new ConfigError((err as Error).message);
      }
    },
  },
  /** How often the adaptive batch control reads latencies and heartbeats and sets each worker's batch limit. */
  GATEWAY_BATCH_CONTROL_INTERVAL: env.duration('1s'),
  /**
   * Under adaptive batch control, abort the youngest batch requests on a worker over its limit (unbilled, queued
   * again) so a cut acts at once. Off by default: on the day benchmark it cost more batch throughput (work lost,
   * prefills redone) than it gave interactive latency (`npm run bench:batch -- --day --shed`).
   */
  GATEWAY_BATCH_SHED: env.bool(false),
  /**
   * vLLM `priority` put in the body of every batch request sent upstream (lower is more urgent; interactive
   * requests have 0, so 1 lets them preempt batch work). Unset: no `priority` is sent. Set it only when every
   * runtime serving batch models runs with `--scheduling-policy priority`: vLLM rejects `priority` otherwise.
   */
  GATEWAY_BATCH_PRIORITY: {
    describe: 'an integer (optional; 1 puts batch behind interactive requests)',
    parse(raw: string | undefined, key: string): number | undefined {
      if (raw === undefined || raw.trim() === '') return undefined;
      const n = Number(raw);
      if (!Number.isInteger(n)) throw new ConfigError(`${key} must be an integer, got ${JSON.stringify(raw)}`);
      return n;
    },
  },
  /**
   * Best concurrency per model, `MODEL=N,…` (`*=N` for the others): the lowest number of running requests at
   * which one of its workers reaches ~95 % of its peak output throughput (measure it with `npm run bench:batch`).
   * Batch work never brings a worker past it: beyond, steps only lengthen, which interactive first tokens feel.
   * Empty: bounded by the reserve and KV cache alone. Under adaptive batch control it is only the controller's
   * ceiling (batch requests per worker from this gateway); the controller, not this cap, bounds running requests
   * (batch-pool workers, outside the controller, keep the cap).
   */
  GATEWAY_BATCH_CONCURRENCY: {
    describe: 'MODEL=N pairs, comma-separated (optional)',
    parse(raw: string | undefined, key: string): BatchConcurrency {
      try {
        return parseBatchConcurrency(raw ?? '', key);
      } catch (err) {
        throw new ConfigError((err as Error).message);
      }
    },
  },
  /**
   * Tokenizer counting each model's prompt and answer when its runtime reports no usage, `MODEL=NAME,…`
   * (`*=NAME` for the others) with NAME `o200k_base` or `cl100k_base`. Empty: `o200k_base` for every model.
   */
  GATEWAY_TOKENIZERS: {
    describe: 'MODEL=TOKENIZER pairs, comma-separated (optional)',
    parse(raw: string | undefined, key: string): TokenizerMap {
      try {
        return parseTokenizerMap(raw ?? '', key);
      } catch (err) {
        throw new ConfigError((err as Error).message);
      }
    },
  },
  /** Batch requests this gateway runs at once, across workers. */
  GATEWAY_BATCH_MAX_IN_FLIGHT: env.int(256, 1, 10_000),
  /** A taken batch request not acked (nor reported working) within this is handed to another executor. */
  GATEWAY_BATCH_ACK_WAIT: env.duration('60s'),
  /** How often batches are checked for completion, cancellation and expiry. */
  GATEWAY_BATCH_SWEEP: env.duration('1s'),
  /** How often the batch backlog (requests not done, per model, with deadlines) is reported to the metrics-collector; 0 turns it off. */
  GATEWAY_BATCH_BACKLOG_INTERVAL: env.duration('5s'),
  /** Attempts of a request that failed for lack of capacity or a worker fault, before its error is the result. */
  GATEWAY_BATCH_ATTEMPTS: env.int(5, 1, 100),
  /** Short sliding window of the per-key token limits (`chatShortWindowTokens`, `batchShortWindowTokens`). */
  GATEWAY_SHORT_WINDOW: env.duration('3h'),
  /** Long sliding window of the per-key token limits (`chatLongWindowTokens`, `batchLongWindowTokens`). */
  GATEWAY_LONG_WINDOW: env.duration('7d'),
  /** A key's window counts are re-read from the usage ledger this often (what other gateways counted). */
  GATEWAY_LEDGER_RESEED: env.duration('1m'),
  GATEWAY_LEDGER_TIMEOUT: env.duration('2s'),
  /** Requests finished this recently may not be in the ledger yet: the gateway keeps counting them itself. */
  GATEWAY_LEDGER_LAG: env.duration('10s'),
  /** Comma-separated CIDRs every /v1 client must come from (empty: anywhere); per-key `allowedCidrs` apply on top. */
  GATEWAY_ALLOWED_CIDRS: env.string(''),
  /** Comma-separated CIDRs of reverse proxies whose `X-Forwarded-For` is believed (empty: none). */
  GATEWAY_TRUSTED_PROXIES: env.string(''),
  /** The auth service (SAML, sessions, portal) that `/auth/*` and `/portal*` are proxied to; empty: not proxied. */
  GATEWAY_AUTH_URL: env.optionalString(),
  /** Open WebUI, proxied for signed-in users under GATEWAY_WEBUI_PATH; empty: not proxied. */
  GATEWAY_WEBUI_URL: env.optionalString(),
  /** Where Open WebUI is mounted on the gateway: `/` (every path not taken by /v1, /auth, /portal, /health, /metrics) or a prefix like `/chat`. */
  GATEWAY_WEBUI_PATH: env.string('/'),
  /**
   * A hostname of its own for Open WebUI (`chat.maas.example.ac.jp`): requests with that Host go to
   * Open WebUI at `/`, its paths on the portal's host are redirected there, and a signed-in user is
   * handed over with a one-time code, so the portal's session cookie never reaches the chat UI's
   * origin. Empty: Open WebUI shares the portal's host under GATEWAY_WEBUI_PATH.
   */
  GATEWAY_WEBUI_HOST: {
    describe: 'a hostname, optionally with :port (optional)',
    parse(raw: string | undefined, key: string): string | undefined {
      if (raw === undefined || raw.trim() === '') return undefined;
      const host = raw.trim().toLowerCase();
      if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/.test(host))
        throw new ConfigError(`${key} must be a hostname such as chat.maas.example.ac.jp (no scheme, no path), got ${JSON.stringify(raw)}`);
      return host;
    },
  },
  /** The origin browsers reach the portal at (`https://maas.example.ac.jp`): where the chat host sends a browser to be handed over. Needed with GATEWAY_WEBUI_HOST. */
  GATEWAY_PUBLIC_URL: {
    describe: 'an http(s) origin (optional)',
    parse(raw: string | undefined, key: string): string | undefined {
      if (raw === undefined || raw.trim() === '') return undefined;
      let url: URL;
      try {
        url = new URL(raw.trim());
      } catch {
        throw new ConfigError(`${key} must be an http(s) URL such as https://maas.example.ac.jp, got ${JSON.stringify(raw)}`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new ConfigError(`${key} must be an http(s) URL, got ${JSON.stringify(raw)}`);
      return url.origin;
    },
  },
  /** How long the chat host's own cookie lasts; past it a page load is handed over again (a portal sign-out ends chat access within this). */
  GATEWAY_WEBUI_SESSION_TTL: env.duration('1h'),
  /**
   * Signs hand-off codes and chat-host cookies; every gateway behind one chat hostname needs the same
   * one (32+ characters). Empty: a random one per process (one gateway; its chat cookies end with it).
   */
  GATEWAY_WEBUI_HANDOFF_SECRET: {
    describe: 'a secret of at least 32 characters (optional)',
    parse(raw: string | undefined, key: string): string | undefined {
      if (raw === undefined || raw === '') return undefined;
      if (raw.length < 32) throw new ConfigError(`${key} must be at least 32 characters long`);
      return raw;
    },
  },
  /** Name of auth's session cookie. */
  GATEWAY_SESSION_COOKIE: env.string('maas_session'),
  /** A session auth vouched for is believed this long; a refused one is refused this long. */
  GATEWAY_SESSION_CACHE_TTL: env.duration('5s'),
  GATEWAY_SESSION_NEGATIVE_TTL: env.duration('1s'),
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
export const loadGatewayConfig = () => loadConfig(gatewayConfigSpec);
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
