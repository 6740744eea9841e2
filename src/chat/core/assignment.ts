/**
 * Picking a person from a group, and the order in which waiting steps are offered. Pure: the
 * caller loads group members, each person's open (undecided) steps and the group's cursor.
 */
export type Strategy = 'round-robin' | 'least-loaded';

export interface GroupPick {
  members: readonly string[];
  strategy: Strategy;
  /** Open steps a person may hold at once. */
  wipLimit: number;
  /** Open steps per member now. */
  load: ReadonlyMap<string, number>;
  /** Round-robin position: index into `members` of the next person to try. */
  cursor: number;
}

/** The chosen member and the next cursor; `undefined` when everybody is at the WIP limit (the step queues). */
export function pickMember(pick: GroupPick): { member: string; cursor: number } | undefined {
  const n = pick.members.length;
  if (n === 0) return undefined;
  const start = ((pick.cursor % n) + n) % n;
  // Members in rotation order from the cursor: round-robin takes the first with room; least-loaded
  // takes the least loaded, ties going to the earliest in rotation so equal loads still rotate.
  const rotation = Array.from({ length: n }, (_, i) => (start + i) % n);
  const open = (i: number) => pick.load.get(pick.members[i]!) ?? 0;
  const eligible = rotation.filter((i) => open(i) < pick.wipLimit);
  if (eligible.length === 0) return undefined;
  let chosen = eligible[0]!;
  if (pick.strategy === 'least-loaded') for (const i of eligible) if (open(i) < open(chosen)) chosen = i;
  return { member: pick.members[chosen]!, cursor: chosen + 1 };
}

const severityRank: Record<string, number> = { critical: 0, error: 1, warning: 2, info: 3 };

export interface QueuedStep {
  stepId: string;
  severity: string | undefined;
  queuedAt: Date;
}

/** Higher-severity runs first; first in, first out within a severity; step id breaks exact ties. */
export function compareQueued(a: QueuedStep, b: QueuedStep): number {
  const rank = (s: string | undefined) => (s === undefined ? 4 : (severityRank[s] ?? 4));
  return (
    rank(a.severity) - rank(b.severity) ||
    a.queuedAt.getTime() - b.queuedAt.getTime() ||
    (a.stepId < b.stepId ? -1 : a.stepId > b.stepId ? 1 : 0)
  );
}
