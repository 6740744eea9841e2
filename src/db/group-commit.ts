/**
 * Group commit: work items that arrive while a transaction for earlier ones is in flight wait
 * for it, then go together in the next one (one BEGIN, one flight of statements, one COMMIT
 * and WAL flush for the lot). An item arriving when nothing is in flight goes at once, alone:
 * grouping adds no wait, it only shares what would otherwise queue.
 *
 * Under load (the last group held more than one item and more are waiting), the next group is
 * formed one turn of the event loop later: the callers the last group just answered send their
 * next items after their own callbacks and I/O, and that turn lets them join this group rather
 * than wait out the one after. On the engine's bench it took recording transactions from 0.27
 * to 0.16 per step (groups of 3.7 → 6.3 results) for one `setImmediate` of delay.
 *
 * `together` runs a group in one transaction and returns one output per item. If it throws,
 * nothing of the group committed, and each item is run `alone`, so a failure is only ever its
 * own item's. `key`: items with the same key never share a group (the later waits for the next).
 */
export interface GroupCommitOptions<I, O> {
  maxBatch: number;
  key?: (item: I) => string;
  together: (items: I[]) => Promise<O[]>;
  alone: (item: I) => Promise<O>;
  /** Called with the size of each group that committed together. */
  onGroup?: (size: number) => void;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Queued<I, O> {
  item: I;
  resolve: (output: O) => void;
  reject: (err: unknown) => void;
}

export function groupCommit<I, O>(options: GroupCommitOptions<I, O>): (item: I) => Promise<O> {
  let queue: Array<Queued<I, O>> = [];
  let busy = false;
  /** The size of the last group of this drain (0 after a quiet spell: the next item goes at once). */
  let lastSize = 0;

  const runGroup = async (group: Array<Queued<I, O>>) => {
    let outputs: O[];
    try {
      outputs = await options.together(group.map((q) => q.item));
    } catch (err) {
      if (group.length === 1) return group[0]!.reject(err);
      await Promise.all(
        group.map(async (q) => {
          try {
            q.resolve(await options.alone(q.item));
          } catch (e) {
            q.reject(e);
          }
        }),
      );
      return;
    }
    options.onGroup?.(group.length);
    group.forEach((q, i) => q.resolve(outputs[i]!));
  };

  const drain = async () => {
    busy = true;
    try {
      while (queue.length > 0) {
        if (lastSize > 1) await nextTurn();
        const group: Array<Queued<I, O>> = [];
        const later: Array<Queued<I, O>> = [];
        const keys = new Set<string>();
        for (const q of queue) {
          const key = options.key?.(q.item);
          if (group.length < options.maxBatch && (key === undefined || !keys.has(key))) {
            if (key !== undefined) keys.add(key);
            group.push(q);
          } else later.push(q);
        }
        queue = later;
        lastSize = group.length;
        await runGroup(group);
      }
    } finally {
      busy = false;
      lastSize = 0;
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!busy) void drain();
    });
}
