import type { Runtime } from './runtime.js';
import { type ClaimedStep, releaseClaims } from './sql/claim.js';

/**
 * Gives back steps that a failed commit claimed for this process's slots: a start's first step
 * (sql/start-run.ts) or a result's next step (complete.ts). A COMMIT whose answer was lost (the
 * connection dropped at COMMIT) may have landed: then those steps are `running` under claim
 * tokens that no slot will ever run, and would wait out their lease (30 s by default). The
 * release is fenced on each claim token, so where the transaction rolled back it changes
 * nothing. It runs in the background, retrying while the database is away, until the lease
 * would have run out anyway; the commit's error goes on to its caller as before.
 */
export function releaseInDoubt(rt: Runtime, claims: ClaimedStep[], now: Date): void {
  if (claims.length === 0) return;
  const giveUpAt = Date.now() + rt.options.leaseMs;
  const attempt = async (delayMs: number): Promise<void> => {
    try {
      await releaseClaims(rt.db, claims, now, rt.options.leaseClock === 'database');
      rt.wake.wake();
    } catch (err) {
      if (Date.now() + delayMs >= giveUpAt) {
        rt.logger.warn({ err, steps: claims.map((c) => c.id) }, 'could not give back steps claimed by a commit in doubt; they run when their lease expires');
        return;
      }
      setTimeout(() => void attempt(Math.min(delayMs * 2, 5_000)), delayMs).unref();
    }
  };
  void attempt(100);
}
