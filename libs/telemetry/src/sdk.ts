import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { installedInstrumentations, instrumentLibraries } from './instrumentations';
import { otlpTracesUrl } from './otlp';

let sdk: NodeSDK | undefined;

/**
 * Starts tracing for this process when an OTLP endpoint is configured (or span processors are given,
 * as tests do): W3C trace context in and out, spans exported over OTLP/HTTP (JSON). Without either,
 * it does nothing and costs nothing: the SDK is not even loaded, and no span is recorded.
 */
export function startTelemetry(serviceName: string, otlpEndpoint?: string, extraProcessors: SpanProcessor[] = []): void {
  if (sdk) return;
  const url = otlpTracesUrl(process.env, otlpEndpoint);
  if (!url && extraProcessors.length === 0) return;
  // Metrics are served by /metrics (Prometheus) and logs go to stdout: keep the SDK to traces only.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  process.env.OTEL_TRACES_EXPORTER ??= 'none';
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter } =
    require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const processors: SpanProcessor[] = [...extraProcessors];
  if (url) processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  // Normally patched at import (see instrumentLibraries); late here only if the endpoint came from elsewhere.
  const instrumentations = url ? instrumentLibraries() : installedInstrumentations();
  sdk = new NodeSDK({ serviceName, spanProcessors: processors, instrumentations });
  sdk.start();
}

/** Whether spans are being recorded: code that builds attributes checks this first. */
export function tracingEnabled(): boolean {
  return sdk !== undefined;
}

/** Flushes the spans not yet exported and stops the SDK. */
export async function stopTelemetry(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown().catch(() => undefined);
}
