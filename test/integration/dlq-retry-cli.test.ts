import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { systemClock } from '../../src/core/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { freePort } from '../support/quench-process.js';
import { playbook, testEngine } from './engine-harness.js';

/**
 * `quench dlq retry` on the database names who re-drove a step in the audit trail. A name given
 * on the command line is a claim anyone can make (`--as` named a user without proving it): the
 * re-drive is recorded as the owner of a presented token, or as the CLI itself.
 */
describe('quench dlq retry on the database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quench-dlq-retry-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const TOKENS = 'ada=tok-ada-0123456789abcdef0123456789ab,reader:read=tok-reader-0123456789abcdef01234567';
  const cli = async (argv: string[], env: Record<string, string> = {}) => {
    let out = '';
    let err = '';
    const code = await runCli(argv, {
      stdout: (t) => void (out += t),
      stderr: (t) => void (err += t),
      env: { QUENCH_DATA_DIR: dir, QUENCH_API_TOKENS: TOKENS, LOG_LEVEL: 'error', ...env },
    });
    return { code, out, err };
  };

  it('records the token owner or system:cli, and refuses --as and tokens that prove nobody', async () => {
    const db = await openDatabase({ dataDir: dir });
    await db.migrate();
    const engine = testEngine(db, systemClock);
    const deadPort = await freePort();
    const flow = playbook('dead', [
      { id: 'call', kind: 'action', action: 'http.request', params: { url: `http://127.0.0.1:${deadPort}/x` }, retry: { maxAttempts: 1 } },
    ]);
    for (let i = 0; i < 2; i++) await engine.startRun({ playbook: flow });
    await engine.createWorker('w').drain();
    const letters = await engine.listDeadLetters({ all: false });
    expect(letters).toHaveLength(2);
    await db.close();
    const [first, second] = letters.map((l) => l.id) as [string, string];

    // A name alone, and tokens that name nobody who may act: refused, nothing re-driven.
    const claimed = await cli(['dlq', 'retry', first, '--as', 'ada']);
    expect(claimed.code).not.toBe(0);
    expect(claimed.err).toMatch(/--as is not accepted/);
    for (const token of ['not-a-token', 'tok-reader-0123456789abcdef01234567']) {
      const refused = await cli(['dlq', 'retry', first], { QUENCH_TOKEN: token });
      expect(refused.code).not.toBe(0);
      expect(refused.err).toMatch(/not a full-access token/);
    }
    expect(JSON.parse((await cli(['dlq', 'list', '--json'])).out)).toHaveLength(2);

    // A full token: recorded as its owner. No token: recorded as the CLI.
    expect((await cli(['dlq', 'retry', first], { QUENCH_TOKEN: 'tok-ada-0123456789abcdef0123456789ab' })).code).toBe(0);
    expect((await cli(['dlq', 'retry', second])).code).toBe(0);

    const reopened = await openDatabase({ dataDir: dir });
    try {
      const entries = (await testEngine(reopened, systemClock).listDeadLetters({ all: true })).filter((l) => l.retriedAt);
      expect(Object.fromEntries(entries.map((l) => [l.id, l.retriedBy]))).toEqual({ [first]: 'ada', [second]: 'cli' });
    } finally {
      await reopened.close();
    }
  });
});
