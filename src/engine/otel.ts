import { startTracing } from '../telemetry/otel.js';

/**
 * Starts OpenTelemetry tracing when the standard OTEL_* variables ask for it (see
 * src/telemetry/otel.ts); otherwise the OpenTelemetry API stays a no-op and spans cost nothing.
 * `_endpoint` (config's OTEL_EXPORTER_OTLP_ENDPOINT) is validated by the config schema; the SDK
 * reads it, and every other OTEL_* variable, from the environment itself. Returns the shutdown
 * that flushes pending spans.
 */
export function installTracing(_endpoint?: string): (() => Promise<void>) | undefined {
  return startTracing(process.env);
}
