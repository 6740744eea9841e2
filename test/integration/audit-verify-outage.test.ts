import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { loadConfig } from '../../src/config/load.js';
import { systemClock } from '../../src/core/clock.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createPostgresDatabase, databaseKinds, freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/databases.js';
import { freePort } from '../support/quench-process.js';
import { cliWith } from './service-harness.js';

/**
 * `quench audit verify` and `GET /v1/audit/verify` give a verdict on the trail (exit 0 intact,
 * 1 broken; 200) only when they walked it. A database that cannot be reached, or fails during
 * the walk, is no verdict: exit 2 and 503, so a script never takes an outage for tampering
 * (or the reverse).
 */
const system = { type: 'system', id: 'test' } as const;

describe.each(databaseKinds)('audit verify when the database fails mid-walk on %s', (kind) => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    await t?.dispose().catch(() => {});
    t = undefined;
  });

  it('the walk ends with database_unavailable, not a verdict', async () => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, systemClock);
    for (let i = 0; i < 6; i++) await audit.append({ actor: system, action: 'test.entry', subject: { type: 'n', id: String(i) } });
    const db = t.db;
    // After the first page of two entries, the database goes away.
    const walk = audit.verify({ batchSize: 2, onProgress: (checked) => void (checked === 2 && db.close()) });
    // (PGlite may still answer the page already asked for: the walk then fails at the next.)
    await expect(walk).rejects.toMatchObject({
      code: 'database_unavailable',
      message: expect.stringMatching(/could not be read to the end \(the database failed after [24] entries verified\): .*No verdict on the trail/),
    });
  });
});

/**
 * Rows only someone writing behind the append-only trigger can store, which JavaScript cannot
 * hash: a time outside what a Date holds, data nested deeper than its stack. Quench hashed every
 * entry it wrote, so such a row was altered: a broken trail (exit 1, 200), not an outage.
 */
const unhashable = [
  ['a time of infinity', sql`update audit_events set at = 'infinity' where seq = 3`],
  ['a time before the Common Era', sql`update audit_events set at = '0044-03-15 12:00:00+00 BC' where seq = 3`],
  ['a time past the year 275760', sql`update audit_events set at = '280000-01-01 00:00:00+00' where seq = 3`],
  ['data nested 8,000 deep', sql`update audit_events set data = (repeat('{"a":', 8000) || '1' || repeat('}', 8000))::jsonb where seq = 3`],
] as const;

describe.each(databaseKinds)('audit verify of a row JavaScript cannot hash on %s', (kind) => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    await t?.dispose().catch(() => {});
    t = undefined;
  });

  // PGlite (wasm) answers a statement with jsonb nested 8,000 deep with no rows and no error, so
  // that tamper cannot be stored there; the other three can.
  const cases = kind === 'pglite' ? unhashable.filter(([name]) => !name.startsWith('data nested')) : unhashable;
  it.each(cases)('%s is a broken entry (a verdict), not database_unavailable', async (_, tamper) => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, systemClock);
    for (let i = 0; i < 5; i++) await audit.append({ actor: system, action: 'test.entry', subject: { type: 'n', id: String(i) } });
    expect(await audit.verify()).toMatchObject({ ok: true, count: 5 });
    await t.db.rows(sql`alter table audit_events disable trigger audit_events_no_update_delete`);
    await t.db.rows(tamper);
    await t.db.rows(sql`alter table audit_events enable trigger audit_events_no_update_delete`);
    expect(await audit.verify()).toEqual({ ok: false, count: 2, broken: { kind: 'hash_mismatch', seq: 3 } });
    if (t.url) {
      const cli = await cliWith(['audit', 'verify', '--quiet'], { DATABASE_URL: t.url });
      expect(cli).toMatchObject({ code: 1, stdout: '' });
      expect(cli.stderr).toMatch(/entry 3: hash mismatch/);
    }
  });
});

describe('quench audit verify exit codes', () => {
  it('exit 2, not 1, when the database cannot be reached', async () => {
    const port = await freePort();
    const result = await cliWith(['audit', 'verify'], { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/quench` });
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toMatch(/^quench audit verify: could not verify the audit trail \(no verdict, exit 2\): cannot connect to DATABASE_URL: .*ECONNREFUSED/);
  });

  it('exit 2 when the service to ask cannot be reached', async () => {
    const port = await freePort();
    const result = await cliWith(['audit', 'verify', '--json'], { QUENCH_URL: `http://127.0.0.1:${port}` });
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toMatch(/^quench audit verify: could not verify the audit trail \(no verdict, exit 2\): the Quench service at http:\/\/127\.0\.0\.1:\d+ is not reachable/);
  });

  it('exit 2 for a malformed --expect, as before', async () => {
    const result = await cliWith(['audit', 'verify', '--expect', '4:nothex'], { QUENCH_URL: 'http://127.0.0.1:9' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--expect: expected SEQ:HASH[\s\S]*--help/);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('GET /v1/audit/verify during a database outage (PostgreSQL)', () => {
  let service: RunningService | undefined;
  let drop: (() => Promise<void>) | undefined;
  let reopen: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await reopen?.();
    await service?.stop();
    await drop?.();
    service = undefined;
    drop = undefined;
    reopen = undefined;
  });

  it('answers 503 (no verdict), and the CLI asking it exits 2', async () => {
    const pg = await createPostgresDatabase('quench_verify_outage');
    drop = pg.drop;
    const config = loadConfig({ DATABASE_URL: pg.url, QUENCH_SLO_DIR: 'test/fixtures/none', QUENCH_PLAYBOOK_DIR: 'test/fixtures/none' });
    service = await startService(config, { logger: silentLogger, port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${service.port}`;
    for (let i = 0; i < 3; i++) await service.ctx.audit.append({ actor: system, action: 'test.entry', subject: { type: 'n', id: String(i) } });
    expect(await (await fetch(`${base}/v1/audit/verify`)).json()).toMatchObject({ ok: true, count: 3 });

    // The database refuses new connections and drops the service's.
    const name = new URL(pg.url).pathname.slice(1);
    const admin = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`alter database ${name} allow_connections false`);
    await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`;
    reopen = async () => {
      await admin.unsafe(`alter database ${name} allow_connections true`);
      await admin.end();
    };

    const answer = await fetch(`${base}/v1/audit/verify`);
    expect(answer.status).toBe(503);
    expect(await answer.json()).toMatchObject({ error: 'database_unavailable', message: expect.stringMatching(/could not be read to the end .*No verdict on the trail/) });
    const cli = await cliWith(['audit', 'verify'], { QUENCH_URL: base });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/could not verify the audit trail \(no verdict, exit 2\): .*503 database_unavailable/);
  });
});
