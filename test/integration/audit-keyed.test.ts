import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { hashedFields } from '../../src/audit/core/entry.js';
import { startHeadPublisher } from '../../src/audit/head-publisher.js';
import { type AuditTrail, createAuditTrail, sha256Hex } from '../../src/audit/trail.js';
import { systemClock } from '../../src/core/clock.js';
import type { Database } from '../../src/db/database.js';
import { createPostgresDatabase, databaseKinds, freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/databases.js';
import { childEnv, runCli } from '../support/quench-process.js';
import { waitFor } from '../support/wait-for.js';

const KEY = 'audit-key-for-tests-0123456789abcdef';
const OTHER_KEY = 'another-audit-key-0123456789abcdef00';
const system = { type: 'system', id: 'test' } as const;

async function appendSome(audit: AuditTrail, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) await audit.append({ actor: system, action: 'test.entry', subject: { type: 'n', id: String(i) }, data: { i } });
}

/**
 * What someone with the database but without the key does (a superuser, or an owner before
 * the role split): triggers off, change one entry, then recompute every hash from there on
 * with plain SHA-256 so each link is consistent again.
 */
async function rewriteWithoutKey(db: Database, audit: AuditTrail, fromSeq: number, change: (e: { action: string; data: Record<string, unknown> }) => void): Promise<void> {
  const entries = await audit.page({ after: 0, limit: 1000 });
  await db.rows(sql`alter table audit_events disable trigger audit_events_no_update_delete`);
  let previousHash = entries.find((e) => e.seq === fromSeq - 1)?.hash ?? '0'.repeat(64);
  for (const entry of entries.filter((e) => e.seq >= fromSeq)) {
    if (entry.seq === fromSeq) change(entry as never);
    entry.prevHash = previousHash;
    entry.hash = sha256Hex(hashedFields(entry));
    previousHash = entry.hash;
    await db.rows(
      sql`update audit_events set action = ${entry.action}, data = ${JSON.stringify(entry.data)}::jsonb, prev_hash = ${entry.prevHash}, hash = ${entry.hash} where seq = ${entry.seq}`,
    );
  }
  await db.rows(sql`alter table audit_events enable trigger audit_events_no_update_delete`);
}

describe.each(databaseKinds)('HMAC-keyed audit trail on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('an existing plain trail turns keyed at a marker; verify needs the key, and the same key', async () => {
    t = await freshDatabase(kind);
    const plain = createAuditTrail(t.db, systemClock);
    await appendSome(plain, 3);
    await plain.flush();
    const keyed = createAuditTrail(t.db, systemClock, { key: KEY });
    await keyed.prepare();
    await appendSome(keyed, 2, 3);
    const [marker] = await keyed.page({ after: 3, limit: 1 });
    expect(marker).toMatchObject({ seq: 4, action: 'audit.hmac_enabled', data: { algorithm: 'hmac-sha256' } });
    expect(await keyed.verify()).toMatchObject({ ok: true, count: 6, lastSeq: 6, keyedSince: 4 });
    expect(await plain.verify()).toMatchObject({ ok: false, count: 3, broken: { kind: 'key_required', seq: 4 } });
    expect(await createAuditTrail(t.db, systemClock, { key: OTHER_KEY }).verify()).toMatchObject({
      ok: false,
      broken: { kind: 'key_mismatch', seq: 4 },
    });
  });

  it('a writer without the key, or with another key, links nothing into a keyed trail', async () => {
    t = await freshDatabase(kind);
    const keyed = createAuditTrail(t.db, systemClock, { key: KEY });
    await appendSome(keyed, 2);
    await keyed.flush();
    const keyless = createAuditTrail(t.db, systemClock);
    // Refused at once: an entry it recorded would stop every chainer at it.
    await expect(keyless.append({ actor: system, action: 'x', subject: { type: 'n', id: 'x' } })).rejects.toThrow(/HMAC-keyed, so set QUENCH_AUDIT_KEY/);
    await expect(createAuditTrail(t.db, systemClock, { key: OTHER_KEY }).append({ actor: system, action: 'x', subject: { type: 'n', id: 'x' } })).rejects.toThrow(
      /matches neither QUENCH_AUDIT_KEY/,
    );
    expect(await t.db.rows(sql`select count(*)::int as n from audit_outbox`)).toEqual([{ n: 0 }]);
    await expect(createAuditTrail(t.db, systemClock, { key: OTHER_KEY }).prepare()).rejects.toThrow(/matches neither QUENCH_AUDIT_KEY/);
    const [chained] = await t.db.rows<{ n: number }>(sql`select count(*)::int as n from audit_events`);
    expect(chained!.n).toBe(3);
    expect(await keyed.verify()).toMatchObject({ ok: true, count: 3, keyedSince: 1 });
  });

  it('a rewrite recomputed with plain SHA-256 passes a plain trail but is caught with the key', async () => {
    t = await freshDatabase(kind);
    // Without a key the rewrite is undetectable from the chain alone: this is the attack.
    const plain = createAuditTrail(t.db, systemClock);
    await appendSome(plain, 6);
    await rewriteWithoutKey(t.db, plain, 3, (e) => (e.data = { i: 1000 }));
    expect(await plain.verify()).toMatchObject({ ok: true, count: 6 });

    await t.dispose();
    t = await freshDatabase(kind);
    const keyed = createAuditTrail(t.db, systemClock, { key: KEY });
    await appendSome(keyed, 6);
    await rewriteWithoutKey(t.db, keyed, 4, (e) => (e.data = { i: 1000 }));
    expect(await keyed.verify()).toEqual({ ok: false, count: 3, broken: { kind: 'unkeyed_entry', seq: 4, keyedSince: 1 } });
  });

  it('rewriting the marker away too is caught by the key, and a later re-keying by the recorded head', async () => {
    t = await freshDatabase(kind);
    const keyed = createAuditTrail(t.db, systemClock, { key: KEY });
    await appendSome(keyed, 5);
    const published = (await keyed.head())!;
    await rewriteWithoutKey(t.db, keyed, 1, (e) => (e.action = 'test.entry'));
    expect(await keyed.verify()).toMatchObject({ ok: false, broken: { kind: 'not_keyed', seq: 6 } });
    // The running service saw the keyed head, so it refuses to go on (next test). A service
    // started afresh has no such memory and keys the forged chain anew: the chain alone now
    // verifies, the head recorded elsewhere does not.
    await appendSome(keyed, 1, 5);
    const restarted = createAuditTrail(t.db, systemClock, { key: KEY });
    await restarted.prepare();
    expect(await restarted.verify()).toMatchObject({ ok: true, keyedSince: 7 });
    expect(await restarted.verify({ expected: new Map([[published.seq, published.hash]]) })).toMatchObject({
      ok: false,
      broken: { kind: 'expected_head_mismatch', seq: published.seq, expected: published.hash },
    });
  });

  it('a running chainer that saw a keyed head refuses the trail rewritten as plain SHA-256 behind its back, and reports it', async () => {
    t = await freshDatabase(kind);
    const keyed = createAuditTrail(t.db, systemClock, { key: KEY });
    await keyed.prepare();
    await appendSome(keyed, 4);
    await keyed.flush();
    // A superuser relinks the whole trail with plain SHA-256, the marker made an ordinary entry.
    await rewriteWithoutKey(t.db, keyed, 1, (e) => (e.action = 'test.entry'));
    const forged = (await t.db.rows<{ hash: string }>(sql`select hash from audit_events where seq = 5`))[0]!.hash;
    await appendSome(keyed, 1, 4);
    await expect(keyed.flush()).rejects.toThrow(/HMAC-keyed up to entry 5 .* entry 5 is a plain SHA-256 link: the trail was rewritten without the key/);
    // Nothing blessed the forgery: no new marker, no entry after it; the new entry waits in the outbox.
    expect(await t.db.rows(sql`select seq, action from audit_events where seq > 5 or action = 'audit.hmac_enabled'`)).toEqual([]);
    expect(await keyed.backlog()).toMatchObject({ entries: 1 });
    // The background loop reports it as every chain fault (the capability logs it, the lag fails /readyz) …
    const errors: unknown[] = [];
    keyed.startChaining({ onError: (err) => errors.push(err), pollMs: 10 });
    await waitFor('the chain loop to report the refused head', async () => errors.length > 0);
    await keyed.stopChaining();
    expect(errors[0]).toMatchObject({ code: 'audit_chain_broken', message: expect.stringMatching(/rewritten without the key/) });
    // … and the forged head is not published as the one to record.
    await expect(keyed.head()).rejects.toThrow(/rewritten without the key/);
    expect((await t.db.rows<{ hash: string }>(sql`select hash from audit_events where seq = 5`))[0]!.hash).toBe(forged);
  });

  it.each([
    ['keyed', KEY],
    ['plain', undefined],
  ])('a running chainer refuses a trail cut back from the end (%s)', async (_mode, key) => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, systemClock, { key });
    await audit.prepare();
    await appendSome(audit, 5);
    await audit.flush();
    const head = (await audit.head())!;
    await t.db.rows(sql`alter table audit_events disable trigger audit_events_no_update_delete`);
    await t.db.rows(sql`delete from audit_events where seq > ${head.seq - 2}`);
    await t.db.rows(sql`alter table audit_events enable trigger audit_events_no_update_delete`);
    await appendSome(audit, 1, 5);
    await expect(audit.flush()).rejects.toThrow(new RegExp(`newest audit entry is ${head.seq - 2}, but this process saw entry ${head.seq}: entries were cut from the end`));
    expect(await t.db.rows(sql`select max(seq)::int as seq from audit_events`)).toEqual([{ seq: head.seq - 2 }]);
  });

  it('head() is no false alarm when a pass of this process commits between its read and its check', async () => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, systemClock, { key: KEY });
    await audit.prepare();
    await appendSome(audit, 3);
    await audit.flush();
    // The head's SELECT takes its snapshot; meanwhile the background loop (another connection of
    // the pool) commits a pass, and its answer is handled first: this process now remembers a
    // newer entry than the one the SELECT read. Played here by chaining before the SELECT's rows
    // reach head().
    const orm = t.db.orm as unknown as { select: (...args: unknown[]) => { from: (...args: unknown[]) => { execute: (...args: unknown[]) => Promise<unknown> } } };
    const select = orm.select;
    orm.select = (...args) => {
      orm.select = select;
      const builder = select.apply(orm, args);
      const from = builder.from;
      builder.from = (...fromArgs) => {
        const query = from.apply(builder, fromArgs);
        const execute = query.execute;
        query.execute = async (...executeArgs) => {
          const rows = await execute.apply(query, executeArgs);
          await appendSome(audit, 1, 3);
          await audit.flush();
          return rows;
        };
        return query;
      };
      return builder;
    };
    expect(await audit.head()).toMatchObject({ seq: 4 });
    expect(orm.select).toBe(select);
    expect(await audit.head()).toMatchObject({ seq: 5 });
  });

  it('a verify by a process of its own (the CLI) after the trail was relinked without the key does not key the forgery afresh', async () => {
    t = await freshDatabase(kind);
    const service = createAuditTrail(t.db, systemClock, { key: KEY });
    await service.prepare();
    await appendSome(service, 4);
    await service.flush();
    await rewriteWithoutKey(t.db, service, 1, (e) => (e.action = 'test.entry'));
    // The running service refuses the forged head; what it records waits in the outbox, MACed.
    await appendSome(service, 2, 4);
    await expect(service.flush()).rejects.toThrow(/rewritten without the key/);
    // The operator, alerted, runs `quench audit verify` with the key: a process with no memory.
    const verifier = createAuditTrail(t.db, systemClock, { key: KEY });
    expect(await verifier.verify()).toMatchObject({ ok: false, broken: { kind: 'not_keyed', seq: 5 } });
    expect(await verifier.page({})).toHaveLength(5);
    expect(await verifier.head()).toMatchObject({ seq: 5 });
    // Nothing keyed the forgery: no marker, the entries still wait, the service still refuses.
    expect(await t.db.rows(sql`select seq from audit_events where seq > 5 or action = 'audit.hmac_enabled'`)).toEqual([]);
    expect(await service.backlog()).toMatchObject({ entries: 2 });
    await expect(service.flush()).rejects.toThrow(/rewritten without the key/);
  });

  it('publishes the head on a schedule, as a log line that verify --expect takes', async () => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, systemClock, { key: KEY });
    await appendSome(audit, 2);
    const lines: Array<{ msg: string; auditHead: { seq: number; hash: string; expect: string; mode: string } }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const publisher = startHeadPublisher({ audit, logger, intervalMs: 20 });
    try {
      const first = await audit.head();
      await waitFor('the first head line', async () => lines.length >= 1);
      expect(lines[0]).toMatchObject({ msg: 'audit head', auditHead: { seq: first!.seq, hash: first!.hash, expect: `${first!.seq}:${first!.hash}`, mode: 'keyed' } });
      await appendSome(audit, 1, 2);
      const next = (await audit.head())!;
      await waitFor('a later line with the new head', async () => lines.some((l) => l.auditHead.seq === next.seq));
      expect(lines.find((l) => l.auditHead.seq === next.seq)!.auditHead.expect).toBe(`${next.seq}:${next.hash}`);
    } finally {
      publisher.stop();
    }
  });
});

describe.skipIf(!TEST_DATABASE_URL)('quench audit verify --expect (CLI, PostgreSQL)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  it('checks recorded heads: matched, differing, cut from the end, malformed', async () => {
    const { url, drop } = await createPostgresDatabase();
    cleanups.push(drop);
    const { openDatabase } = await import('../../src/db/database.js');
    const db = await openDatabase({ url });
    await db.migrate();
    const audit = createAuditTrail(db, systemClock);
    await appendSome(audit, 10);
    const entries = await audit.page({ after: 0, limit: 100 });
    await db.close();
    const env = childEnv({ DATABASE_URL: url });
    const head = (seq: number) => `${seq}:${entries[seq - 1]!.hash}`;

    const matched = await runCli(['audit', 'verify', '--expect', head(4), '--expect', head(10)], env);
    expect(matched.stdout).toMatch(/intact: 10 entries, head 10:[0-9a-f]{64}, 2 recorded head\(s\) matched/);
    expect(matched.code).toBe(0);

    const differing = await runCli(['audit', 'verify', '--expect', `4:${'0'.repeat(64)}`], env);
    expect(differing.stderr).toMatch(/BROKEN at sequence 4: .*differs from the recorded head 0{64}; the trail was rewritten at or before this entry/);
    expect(differing.code).toBe(1);

    const malformed = await runCli(['audit', 'verify', '--expect', '4:nothex'], env);
    expect(malformed.stderr).toMatch(/--expect: expected SEQ:HASH/);
    expect(malformed.code).toBe(2);

    // Cut the last three entries (superuser, trigger bypassed for this session): the chain
    // that is left is consistent, and only the recorded head reveals the cut.
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    await admin.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`delete from audit_events where seq > 7`;
    });
    await admin.end();
    expect((await runCli(['audit', 'verify'], env)).code).toBe(0);
    const cut = await runCli(['audit', 'verify', '--expect', head(10)], env);
    expect(cut.stderr).toMatch(/the trail ends at entry 7, before the recorded head 10; entries were cut from the end/);
    expect(cut.code).toBe(1);
  });
});
