import type { IncomingMessage, RequestOptions } from 'node:http';
import type { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import type { PgInstrumentation } from '@opentelemetry/instrumentation-pg';

export type LibraryInstrumentation = HttpInstrumentation | PgInstrumentation;

/** Probes and scrapes: frequent, uninteresting, and they would drown the traces that matter. */
const PROBE_PATH = /^\/(?:health|metrics)(?:[/?]|$)/;

let installed: LibraryInstrumentation[] | undefined;
let ownServerSpans: ((url: string) => boolean) | undefined;

/**
 * Patches `http` and `pg` so their calls become spans. Must run before anything loads them: a module
 * that took `http.request` before the patch keeps the original. `@maas/telemetry/preload` does it
 * when tracing is configured, as the first import of a service's main.ts. Loads the instrumentation
 * packages only here, so a process without tracing never pays for them.
 *
 * Spans are opened only inside a trace for outgoing HTTP and SQL (`requireParent…`): a timer's
 * database poll or a worker scrape starts no trace of its own.
 */
export function instrumentLibraries(): LibraryInstrumentation[] {
  if (installed) return installed;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const http = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const pg = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  /* eslint-enable @typescript-eslint/no-require-imports */
  installed = [
    new http.HttpInstrumentation({
      ignoreIncomingRequestHook: (req: IncomingMessage) => PROBE_PATH.test(req.url ?? '') || (ownServerSpans?.(req.url ?? '') ?? false),
      ignoreOutgoingRequestHook: (req: RequestOptions) => PROBE_PATH.test(req.path ?? ''),
      requireParentforOutgoingSpans: true,
    }),
    new pg.PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
  ];
  return installed;
}

/**
 * Requests whose server span the service opens itself (the gateway's `/v1`, which carry GenAI
 * attributes and end when the request is accounted): the http instrumentation leaves them alone.
 * A request it leaves alone runs with tracing suppressed, so the service's span must be started
 * from the request's own headers (see `contextFromHttpHeaders`), not from the active context.
 */
export function serveOwnServerSpans(matches: (url: string) => boolean): void {
  ownServerSpans = matches;
}

export function installedInstrumentations(): LibraryInstrumentation[] {
  return installed ?? [];
}
