import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { openDatabase } from '../../src/db/database.js';
import { claimDue, failDelivery, insertDelivery } from '../../src/ingest/inbox.js';

// `quench dlq inbox` lists dead-lettered deliveries and `retry` queues one again.
describe('quench dlq inbox', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quench-dlq-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cli = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(argv, {
      stdout: (t) => {
        out += t;
      },
      stderr: (t) => {
        err += t;
      },
      env: { QUENCH_DATA_DIR: dir, LOG_LEVEL: 'error' },
    });
    return { code, out, err };
  };

  it('lists a dead entry with its error, retries it, and refuses an entry that is not dead', async () => {
    const db = await openDatabase({ dataDir: dir });
    await db.migrate();
    const now = new Date('2026-11-21T19:00:00Z');
    await insertDelivery(db, { source: 'generic:ci', deliveryKey: 'd1', receivedAt: now, headers: {}, body: '{}' });
    const [row] = await claimDue(db, now, 60_000, 10);
    expect(await failDelivery(db, row!, "playbook 'doomed' is not loaded", undefined)).toBe('dead');
    await db.close();

    const listed = await cli('dlq', 'inbox');
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(new RegExp(`^${row!.id}  source=generic:ci .*attempts=1: playbook 'doomed' is not loaded`));
    expect((await cli('dlq', 'inbox', 'retry', String(row!.id))).out).toBe(`inbox entry ${row!.id} queued again\n`);
    expect((await cli('dlq', 'inbox')).out).toBe('no dead-lettered inbox entries\n');
    const again = await cli('dlq', 'inbox', 'retry', String(row!.id));
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/is not dead-lettered/);
  });
});
