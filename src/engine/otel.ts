import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/**
 * Registers a tracer provider exporting over OTLP/HTTP, only when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise the OpenTelemetry API stays a no-op and
 * spans cost nothing. Returns the shutdown that flushes pending spans.
 */
export function installTracing(endpoint: string | undefined): (() => Promise<void>) | undefined {
  if (!endpoint) return undefined;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'quench' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))],
  });
  provider.register();
  return () => provider.shutdown();
}
