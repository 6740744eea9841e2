import { afterEach, describe, expect, it } from 'vitest';
import { createEngineWaker, WAKE_CHANNEL } from '../../../src/engine/wake.js';
import { freshDatabase, type TestDatabase } from '../../support/databases.js';

describe('engine waker', () => {
  let t: TestDatabase;
  afterEach(async () => {
    await t?.dispose();
  });

  it('wakes local workers at once, other replicas by at most one NOTIFY per interval', async () => {
    t = await freshDatabase('pglite');
    const heard: number[] = [];
    // Sent outside any transaction: the listener hears it (a NOTIFY in a rolled-back or open one would not be).
    const unlisten = await t.db.listen(WAKE_CHANNEL, () => heard.push(Date.now()));
    const waker = createEngineWaker(t.db, (err) => {
      throw err;
    }, 200);
    let local = 0;
    waker.onWake(() => local++);
    for (let i = 0; i < 50; i++) waker.wake();
    expect(local).toBe(50);
    await new Promise((r) => setTimeout(r, 100));
    // The first wake-up is sent at once; the other 49 within the interval wait for its end.
    expect(heard).toHaveLength(1);
    // Then one at the end of the interval for all of them, and no more.
    await new Promise((r) => setTimeout(r, 700));
    expect(heard).toHaveLength(2);
    await unlisten();
  });
});
