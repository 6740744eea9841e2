import { and, eq } from 'drizzle-orm';
import type { Database } from '../../db/database.js';
import { engineSteps } from '../schema.js';

/**
 * Gives a claimed step back without an attempt: its circuit breaker is open. It becomes a
 * retry wait that wakes when the breaker half-opens, and no attempt is spent: an open
 * breaker says nothing about this step.
 */
export async function releaseClaim(db: Database, stepId: string, worker: string, wakeAt: Date): Promise<boolean> {
  const rows = await db.orm
    .update(engineSteps)
    .set({ status: 'retry_wait', leaseOwner: null, wakeAt })
    .where(and(eq(engineSteps.id, stepId), eq(engineSteps.status, 'running'), eq(engineSteps.leaseOwner, worker)))
    .returning({ id: engineSteps.id });
  return rows.length > 0;
}
