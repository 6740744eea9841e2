import { desc } from 'drizzle-orm';
import { Gauge } from 'prom-client';
import type { Capability } from '../service.js';
import { addAuditRoutes } from './routes.js';
import { auditEvents } from './schema.js';

/**
 * The audit trail's routes and its head metric. `verify` cannot see rows cut from the end of
 * the chain (nothing follows them to break), so the head sequence is exported: a drop in
 * `quench_audit_head_sequence` in Prometheus history reveals a truncated tail.
 */
export const auditCapability: Capability = (ctx) => {
  addAuditRoutes(ctx.router, ctx.audit);
  new Gauge({
    name: 'quench_audit_head_sequence',
    help: 'Sequence number of the newest audit entry (it only ever grows).',
    registers: [ctx.metrics.registry],
    async collect() {
      const [head] = await ctx.db.orm.select({ seq: auditEvents.seq }).from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1);
      this.set(head?.seq ?? 0);
    },
  });
  return undefined;
};
