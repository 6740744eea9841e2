import type { Capability } from '../service.js';
import { installTracing } from './otel.js';
import { addDeadLetterRoutes } from './dlq-routes.js';
import { addEngineRoutes } from './routes.js';

/**
 * Wires the engine into `quench serve`: the `/v1` run and decision routes, OpenTelemetry
 * export when configured, and one worker per process (any number of replicas share the
 * database). The engine itself is created with the context (service.ts) so CLI commands use
 * the same API without starting a worker.
 */
export const engineCapability: Capability = (ctx) => {
  addEngineRoutes(ctx.router, () => ctx.ports.engine);
  addDeadLetterRoutes(ctx.router, () => ctx.ports.engine);
  let worker: ReturnType<typeof ctx.ports.engine.createWorker> | undefined;
  let stopTracing: (() => Promise<void>) | undefined;
  return {
    name: 'engine',
    async start() {
      stopTracing = installTracing(ctx.config.OTEL_EXPORTER_OTLP_ENDPOINT);
      worker = ctx.ports.engine.createWorker();
      await worker.start();
      ctx.logger.info({ worker: worker.id }, 'engine worker started');
    },
    async stop() {
      await worker?.stop();
      await stopTracing?.();
    },
  };
};
