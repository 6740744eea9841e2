/**
 * Group commit: work items that arrive while a transaction for earlier ones is in flight wait
 * for it, then go together in the next one (one BEGIN, one flight of statements, one COMMIT
 * and WAL flush for the lot). An item arriving when nothing is in flight goes at once, alone:
 * grouping adds no wait, it only shares what would otherwise queue.
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

interface Queued<I, O> {
  item: I;
  resolve: (output: O) => void;
  reject: (err: unknown) => void;
}

export function groupCommit<I, O>(options: GroupCommitOptions<I, O>): (item: I) => Promise<O> {
  let queue: Array<Queued<I, O>> = [];
  let busy = false;

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
        await runGroup(group);
      }
    } finally {
      busy = false;
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!busy) void drain();
    });
}
