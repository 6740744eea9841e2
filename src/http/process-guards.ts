import type { Logger } from '../telemetry/logger.js';

/**
 * The process-level policy of `quench serve`: an error nobody caught is logged and the
 * service keeps serving. Node's default (exit on an unhandled rejection or exception) turns
 * one bad request into an outage and orphans in-flight `exec` children, whose side effects a
 * takeover would then repeat. Every request path also catches its own errors
 * (./server.ts); these handlers are the last line, and each firing is a bug to fix.
 */
export function installProcessGuards(logger: Logger): () => void {
  const onRejection = (reason: unknown) => {
    logger.error({ err: reason }, 'unhandled promise rejection (a bug; the service keeps running)');
  };
  const onException = (err: Error, origin: string) => {
    logger.error({ err, origin }, 'uncaught exception (a bug; the service keeps running)');
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
