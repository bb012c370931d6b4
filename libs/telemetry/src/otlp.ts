/**
 * Where this process sends its spans: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else
 * OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces` (the OTLP/HTTP conventions). Undefined means tracing
 * is off: no SDK, no instrumentation, nothing on the request path.
 */
export function otlpTracesUrl(env: NodeJS.ProcessEnv = process.env, endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = endpoint?.trim();
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}
