import { type Context, context, propagation, type Span, SpanStatusCode, trace } from '@opentelemetry/api';

/**
 * OpenTelemetry spans for runs, steps and attempts. A run outlives processes, so it cannot be
 * one open span: `quench.run.start` is recorded when the run starts (as a child of the
 * trigger's trace context) and its context is stored with the run; every step and attempt
 * span, in whichever process, is a child of it, so one trace shows the whole run.
 * Without a registered tracer provider (OTEL_EXPORTER_OTLP_ENDPOINT unset) the API is a no-op.
 */
export interface CarriedContext {
  traceparent?: string;
  tracestate?: string;
}

export interface EngineTracing {
  /** The current active context, serialised (to store with a run). */
  capture(parent?: CarriedContext): CarriedContext;
  span<T>(
    name: string,
    parent: CarriedContext | null | undefined,
    attributes: Record<string, string | number | boolean>,
    fn: (span: Span, carried: CarriedContext) => Promise<T>,
  ): Promise<T>;
}

export function createTracing(): EngineTracing {
  const tracer = trace.getTracer('quench.engine');
  const extract = (carried: CarriedContext | null | undefined): Context =>
    carried?.traceparent ? propagation.extract(context.active(), carried) : context.active();
  const inject = (ctx: Context): CarriedContext => {
    const out: CarriedContext = {};
    propagation.inject(ctx, out);
    return out;
  };
  return {
    capture: (parent) => (parent?.traceparent ? parent : inject(context.active())),
    async span(name, parent, attributes, fn) {
      const span = tracer.startSpan(name, { attributes }, extract(parent));
      const ctx = trace.setSpan(extract(parent), span);
      try {
        const result = await context.with(ctx, () => fn(span, inject(ctx)));
        span.setStatus({ code: SpanStatusCode.OK });
        return result;
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    },
  };
}
