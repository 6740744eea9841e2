/**
 * What becomes of a finished period's report once its claimant computed it (Reports.produce):
 * who posts it, and when. One decision, from the row's origin (a schedule's week stays the
 * schedule's, whoever finishes it), the caller's, whether the caller asked to post it and
 * whether its replica can post at all (Slack configured).
 */
export type Posting =
  /** Stored only: a person's read of a period no schedule owns. */
  | { kind: 'none' }
  /**
   * The schedule's to post, stored with its posting lease let go at once: the next retry of a
   * replica with Slack posts it. A person's read of a scheduled week (no Slack call inside a
   * GET), and any scheduled week on a replica that cannot post — never marked posted there.
   */
  | { kind: 'pending' }
  /**
   * Posted now, resumably, under the posting lease its save takes. `raise`: a person's `--post`
   * waits for it and hears of a Slack failure (the retry still resumes it after its back-off).
   */
  | { kind: 'scheduled'; raise: boolean }
  /** A person's `--post` of a period no schedule owns: posted once, in full, then marked posted. */
  | { kind: 'once' };

export interface PostingInput {
  /** The claimed row's origin (a stale claim taken over keeps it). */
  rowOrigin: string;
  /** Who asks: the schedule (cron, catch-up) or a person (GET, `quench report`). */
  origin: 'scheduled' | 'on_demand';
  /** A person asked to post it (`--post`, `POST /v1/reports/post`). */
  post: boolean;
  /** This replica has Slack. */
  canPost: boolean;
}

export function postingOf({ rowOrigin, origin, post, canPost }: PostingInput): Posting {
  const scheduled = rowOrigin === 'scheduled' || origin === 'scheduled';
  if (!scheduled) return post && canPost ? { kind: 'once' } : { kind: 'none' };
  if (!canPost) return { kind: 'pending' };
  if (origin === 'scheduled') return { kind: 'scheduled', raise: false };
  return post ? { kind: 'scheduled', raise: true } : { kind: 'pending' };
}
