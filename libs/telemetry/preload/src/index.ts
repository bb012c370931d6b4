/**
 * `import '@maas/telemetry/preload'` as the first line of a service's main.ts: when tracing is
 * configured (OTEL_EXPORTER_OTLP_ENDPOINT), patches http and pg before anything else loads them; a
 * module that took `http.request` before the patch keeps the original. Without tracing it loads
 * nothing. Only services import it: the CLI, workers and tests never start the SDK, so their
 * http stays unpatched.
 */
import { instrumentLibraries } from '../../src/instrumentations';
import { otlpTracesUrl } from '../../src/otlp';

if (otlpTracesUrl()) instrumentLibraries();
