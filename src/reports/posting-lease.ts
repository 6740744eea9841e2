import type { Clock } from '../core/clock.js';
import { QuenchError } from '../core/errors.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../telemetry/logger.js';
import type { PostingHold } from './posting.js';
import { type DuePost, type LeaseClock, POST_LEASE_RENEW_MS, renewPostLease, savePostProgress } from './store.js';

export interface LeaseHold extends PostingHold {
  /** Another poster took the report over (a renewal or a save found the lease gone). */
  readonly lost: boolean;
  /** Stops renewing; resolves once a renewal in flight has ended (the database may close next). */
  release(): Promise<void>;
}

/**
 * The posting lease of one try, kept while it posts: renewed with each saved message and on a
 * timer, as a Slack call may hang for longer than the lease (the WebClient has no timeout) and
 * a poster alive must not be taken over, by another replica or by its own replica's retry.
 * `stopping`: the service stops; the try ends before its next message (the lease is then
 * released by the caller, so another replica resumes it at once).
 */
export function holdPostingLease(
  deps: { db: Database; clock: Clock; logger: Logger; leaseClock: LeaseClock },
  due: DuePost,
  options: { renewMs?: number | undefined; stopping: () => boolean },
): LeaseHold {
  const { db, clock, logger, leaseClock } = deps;
  let lost = false;
  let renewing: Promise<void> | undefined;
  const timer = setInterval(() => {
    renewing ??= renewPostLease(db, due.from, due.to, due.lease, clock.now(), leaseClock)
      .then(
        (held) => void (lost ||= !held),
        (err: unknown) => logger.warn({ err, from: due.from, to: due.to }, 'renewing the SLO report posting lease failed; trying again'),
      )
      .finally(() => {
        renewing = undefined;
      });
  }, options.renewMs ?? POST_LEASE_RENEW_MS);
  timer.unref();
  return {
    get lost() {
      return lost;
    },
    held: () => !lost && !options.stopping(),
    save: async () => {
      if (lost) return false;
      const saved = await savePostProgress(db, due.from, due.to, due.lease, due.progress, clock.now(), leaseClock).catch((err: unknown) => {
        // drizzle's message is the whole statement with its parameters (the progress JSON): the
        // operator reads this in post_error, so name what failed and the driver's reason only.
        const reason = ((err as { cause?: Error }).cause ?? (err as Error)).message;
        throw new QuenchError('database_unavailable', `saving what reached Slack failed (${reason}); that message was posted, and is recorded with this try's failure`, { cause: err });
      });
      lost = !saved;
      return saved;
    },
    release: async () => {
      clearInterval(timer);
      await renewing;
    },
  };
}
