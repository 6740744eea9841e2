import { describe, expect, it } from 'vitest';
import { groupCommit } from '../../../src/db/group-commit.js';

/** A fake transaction runner that records the groups it was given and resolves on demand. */
function harness(options: { failGroupsWith?: (items: string[]) => boolean; failAlone?: (item: string) => boolean } = {}) {
  const groups: string[][] = [];
  const alone: string[] = [];
  const run = groupCommit<string, string>({
    maxBatch: 3,
    key: (item) => item.split(':')[0]!,
    together: async (items) => {
      groups.push(items);
      await new Promise((r) => setTimeout(r, 5));
      if (options.failGroupsWith?.(items)) throw new Error(`group ${items.join(',')} failed`);
      return items.map((i) => `done ${i}`);
    },
    alone: async (item) => {
      alone.push(item);
      if (options.failAlone?.(item)) throw new Error(`${item} failed alone`);
      return `alone ${item}`;
    },
  });
  return { run, groups, alone };
}

describe('group commit', () => {
  it('the first item goes at once, alone; items arriving meanwhile share the next group, up to the limit', async () => {
    const h = harness();
    const out = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((x) => h.run(x)));
    expect(out).toEqual(['done a', 'done b', 'done c', 'done d', 'done e', 'done f']);
    expect(h.groups).toEqual([['a'], ['b', 'c', 'd'], ['e', 'f']]);
  });

  it('under load, the items that the last group\'s callers send next join the waiting ones in one group', async () => {
    const h = harness();
    // Each caller answered sends its next item after a turn of the event loop (its own I/O).
    const thenNext = (item: string) => h.run(item).then(() => new Promise<string>((r) => setImmediate(() => r(h.run(`${item}2`)))));
    // d arrives while the group of b and c is in flight.
    const first = h.run('a').then(() => new Promise<string>((r) => setImmediate(() => r(h.run('d')))));
    const [b, c] = [thenNext('b'), thenNext('c')];
    await Promise.all([first, b, c]);
    expect(h.groups).toEqual([['a'], ['b', 'c'], ['d', 'b2', 'c2']]);
  });

  it('after a quiet spell the next item goes at once, alone', async () => {
    const h = harness();
    await Promise.all(['a', 'b', 'c'].map((x) => h.run(x)));
    const started = h.groups.length;
    const late = h.run('late');
    // Sent at once, before any turn of the event loop.
    expect(h.groups.length).toBe(started + 1);
    expect(h.groups.at(-1)).toEqual(['late']);
    await late;
  });

  it('two items with the same key never share a group; the later keeps its place for the next one', async () => {
    const h = harness();
    await Promise.all(['x', 'r:1', 'r:2', 's:1', 'r:3'].map((x) => h.run(x)));
    expect(h.groups).toEqual([['x'], ['r:1', 's:1'], ['r:2'], ['r:3']]);
  });

  it('a failed group is retried item by item, so each failure is only its own item', async () => {
    const h = harness({ failGroupsWith: (items) => items.includes('bad'), failAlone: (item) => item === 'bad' });
    const results = await Promise.allSettled(['first', 'ok1', 'bad', 'ok2'].map((x) => h.run(x)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'done first',
      'alone ok1',
      'bad failed alone',
      'alone ok2',
    ]);
    expect(h.alone.sort()).toEqual(['bad', 'ok1', 'ok2']);
  });

  it('a group of one that fails rejects its item without a second try', async () => {
    const h = harness({ failGroupsWith: () => true });
    await expect(h.run('only')).rejects.toThrow('group only failed');
    expect(h.alone).toEqual([]);
  });
});
