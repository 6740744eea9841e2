import type { Logger } from '../telemetry/logger.js';
import type { AuditTrail } from './trail.js';

/**
 * How often the head is logged. The line is what operators ship somewhere the database role
 * cannot write (a log store, a ticket, object storage with retention), to check the chain
 * against later with `quench audit verify --expect SEQ:HASH`; a minute bounds how much of the
 * tail a rewrite could hide between two published heads.
 */
export const HEAD_PUBLISH_INTERVAL_MS = 60_000;

/** Logs the audit head now and every `intervalMs`; `stop` ends the schedule. */
export function startHeadPublisher(options: { audit: AuditTrail; logger: Logger; intervalMs?: number }): { stop: () => void } {
  const { audit, logger } = options;
  const publish = async () => {
    const head = await audit.head();
    logger.info(
      { auditHead: head ? { seq: head.seq, hash: head.hash, expect: `${head.seq}:${head.hash}`, mode: audit.mode } : null },
      'audit head',
    );
  };
  const publishLogged = () => publish().catch((err) => logger.error({ err }, 'could not read the audit head to publish it'));
  void publishLogged();
  const timer = setInterval(publishLogged, options.intervalMs ?? HEAD_PUBLISH_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
