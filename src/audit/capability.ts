import { desc } from 'drizzle-orm';
import { Gauge } from 'prom-client';
import { QuenchError } from '../core/errors.js';
import type { AuditTrail } from './trail.js';
import type { Capability } from '../service.js';
import { startHeadPublisher } from './head-publisher.js';
import { checkServiceRole } from './role-check.js';
import { addAuditRoutes } from './routes.js';
import { addAuditVerifyRoute } from './verify-route.js';
import { auditEvents } from './schema.js';

/**
 * Past this age of the oldest unchained entry the replica reports not ready: chaining has
 * stopped (a refused head or outbox entry, a chainer that cannot take its lock, a long
 * transaction), not merely lagging; normal lag is milliseconds. docs/operations.md.
 */
export const AUDIT_MAX_LAG_SECONDS = 30;

/** /readyz: the audit chain keeps up (every replica reports it: the outbox is shared). */
export function auditReadiness(audit: AuditTrail): () => Promise<{ ok: boolean; reason?: string }> {
  return async () => {
    const { entries, oldestSeconds } = await audit.backlog();
    if (oldestSeconds <= AUDIT_MAX_LAG_SECONDS) return { ok: true };
    return {
      ok: false,
      reason: `${entries} audit entries wait to be chained, the oldest for ${Math.round(oldestSeconds)} s (limit ${AUDIT_MAX_LAG_SECONDS} s): see the 'audit chain pass failed' log`,
    };
  };
}

/**
 * The audit trail's routes, its head metric and published head, and the start-up checks of
 * the database role. `verify` cannot see rows cut from the end of the chain (nothing follows
 * them to break), so the head is exported: a drop in `quench_audit_head_sequence` in
 * Prometheus history, or a published `audit head` line that `verify --expect` no longer
 * finds, reveals a truncated or rewritten tail.
 */
export const auditCapability: Capability = (ctx) => {
  addAuditRoutes(ctx.router, ctx.audit);
  addAuditVerifyRoute(ctx.router, ctx.audit);
  new Gauge({
    name: 'quench_audit_head_sequence',
    help: 'Sequence number of the newest audit entry (it only ever grows).',
    registers: [ctx.metrics.registry],
    async collect() {
      const [head] = await ctx.db.orm.select({ seq: auditEvents.seq }).from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1);
      this.set(head?.seq ?? 0);
    },
  });
  // One query per scrape for both backlog gauges (collect() of each asks the same question).
  let backlog: Promise<{ entries: number; oldestSeconds: number }> | undefined;
  const readBacklog = () => {
    backlog ??= ctx.audit.backlog().finally(() => setTimeout(() => (backlog = undefined), 100).unref());
    return backlog;
  };
  new Gauge({
    name: 'quench_audit_unchained_entries',
    help: 'Audit entries committed but not yet linked into the chain (the outbox).',
    registers: [ctx.metrics.registry],
    async collect() {
      this.set((await readBacklog()).entries);
    },
  });
  new Gauge({
    name: 'quench_audit_chain_lag_seconds',
    help: 'Age of the oldest audit entry not yet chained (0 when none is waiting).',
    registers: [ctx.metrics.registry],
    async collect() {
      this.set((await readBacklog()).oldestSeconds);
    },
  });
  let publisher: { stop: () => void } | undefined;
  return {
    name: 'audit',
    async start() {
      const role = await checkServiceRole(ctx.db);
      if (role?.missing.length) {
        throw new QuenchError(
          'config_invalid',
          `the database role ${role.role} lacks privileges the service needs: ${role.missing.join(', ')}. ` +
            'Grant them as the schema owner (docs/database-roles.md)',
        );
      }
      if (role?.canRewriteTrail.length) {
        ctx.logger.warn(
          { role: role.role, reasons: role.canRewriteTrail },
          'the service database role can rewrite the audit trail: run migrations as a separate owner role (QUENCH_MIGRATION_DATABASE_URL, docs/database-roles.md)',
        );
      }
      // A wrong or missing QUENCH_AUDIT_KEY stops start-up here rather than at the first append.
      await ctx.audit.prepare();
      // A stopped chain fails every pass (every 250 ms): the same error is logged once a minute.
      let last = { message: '', at: 0 };
      ctx.audit.startChaining({
        onError: (err) => {
          const message = (err as Error).message;
          if (message === last.message && Date.now() - last.at < 60_000) return;
          last = { message, at: Date.now() };
          ctx.logger.error({ err }, 'audit chain pass failed; entries stay in the outbox until a pass succeeds');
        },
      });
      publisher = startHeadPublisher({ audit: ctx.audit, logger: ctx.logger });
    },
    async stop() {
      publisher?.stop();
      await ctx.audit.stopChaining();
      // What this replica recorded is chained before the database closes (another replica would otherwise).
      await ctx.audit.flush().catch((err) => ctx.logger.warn({ err }, 'could not chain the last audit entries at stop; the next chainer will'));
    },
  };
};
