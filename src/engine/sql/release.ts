import type { Database } from '../../db/database.js';
import { engineSteps } from '../schema.js';
import { heldByClaim } from './load.js';

/**
 * Gives a claimed step back without an attempt: its circuit breaker is open. It becomes a
 * retry wait that wakes when the breaker half-opens, and no attempt is spent: an open
 * breaker says nothing about this step. The step's deadline still runs: it is fixed here if no
 * attempt fixed it yet, and the step wakes at the deadline if that comes first, so a step that
 * only ever meets an open breaker fails at its deadline (and is dead-lettered) instead of
 * waiting for ever. Fenced on the claim token.
 */
export async function releaseClaim(
  db: Database,
  args: { stepId: string; token: string; retryAt: Date; deadlineAt: Date | null },
): Promise<boolean> {
  const wakeAt = args.deadlineAt && args.deadlineAt < args.retryAt ? args.deadlineAt : args.retryAt;
  const rows = await db.orm
    .update(engineSteps)
    .set({ status: 'retry_wait', leaseOwner: null, wakeAt, deadlineAt: args.deadlineAt })
    .where(heldByClaim(args.stepId, args.token))
    .returning({ id: engineSteps.id });
  return rows.length > 0;
}
