import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { AUDIT_MAX_LAG_SECONDS, auditReadiness } from '../../src/audit/capability.js';
import { type AuditTrail, createAuditTrail } from '../../src/audit/trail.js';
import { systemClock } from '../../src/core/clock.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import { databaseKinds, freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/databases.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The outbox and its chainer (src/audit/ARCHITECTURE.md): entries are committed unchained and
 * linked later in id order by one chainer at a time. Attacks: crashes between the chain
 * INSERT and the outbox DELETE, two chainers at once, entries committed and never chained by
 * their writer, entries inserted without the key, and the order of concurrent transactions.
 */
const KEY = 'audit-key-for-outbox-tests-0123456789';
const system = { type: 'system', id: 'test' } as const;

const count = async (db: Database, table: 'audit_events' | 'audit_outbox') =>
  (await db.rows<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(table)}`))[0]!.n;

/** No fork, no gap, no duplicate, nothing lost: the chain verifies and holds each recorded entry once. */
async function expectWhole(db: Database, audit: AuditTrail, recorded: number): Promise<void> {
  expect(await audit.verify()).toMatchObject({ ok: true });
  expect(await count(db, 'audit_outbox')).toBe(0);
  const [row] = await db.rows<{ n: number; distinct: number }>(
    sql`select count(*)::int as n, count(distinct data->>'k')::int as distinct from audit_events where action = 'outbox.test'`,
  );
  expect(row).toEqual({ n: recorded, distinct: recorded });
}

const record = (audit: AuditTrail, k: string, executor?: Parameters<AuditTrail['append']>[1]) =>
  audit.append({ actor: system, action: 'outbox.test', subject: { type: 'k', id: k }, data: { k } }, executor);

describe.each(databaseKinds)('audit outbox on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('an entry committed but never chained by its writer is chained by the next one, in id order', async () => {
    t = await freshDatabase(kind);
    const writer = createAuditTrail(t.db, systemClock);
    for (let i = 0; i < 5; i++) await record(writer, `w${i}`);
    // The writer "dies" here: nothing chained, everything durable in the outbox.
    expect(await count(t.db, 'audit_events')).toBe(0);
    expect(await count(t.db, 'audit_outbox')).toBe(5);
    const next = createAuditTrail(t.db, systemClock);
    await next.prepare();
    expect((await next.page({})).map((e) => e.subject.id)).toEqual(['w0', 'w1', 'w2', 'w3', 'w4']);
    await expectWhole(t.db, next, 5);
  });

  it('a rolled-back transaction leaves no entry; the committed one is chained', async () => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, systemClock);
    await expect(
      t.db.orm.transaction(async (tx) => {
        await record(audit, 'rolled-back', tx);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    await t.db.orm.transaction(async (tx) => {
      await record(audit, 'committed', tx);
    });
    expect((await audit.page({})).map((e) => e.subject.id)).toEqual(['committed']);
  });

  it('a keyed chainer links entries recorded before the key as plain links, then the marker, and never links a row without a valid MAC', async () => {
    t = await freshDatabase(kind);
    const plain = createAuditTrail(t.db, systemClock);
    await record(plain, 'p0');
    await record(plain, 'p1');
    const keyed = createAuditTrail(t.db, systemClock, { key: KEY });
    await keyed.prepare();
    await record(keyed, 'k0');
    const entries = await keyed.page({});
    expect(entries.map((e) => e.action)).toEqual(['outbox.test', 'outbox.test', 'audit.hmac_enabled', 'outbox.test']);
    expect(await keyed.verify()).toMatchObject({ ok: true, count: 4, keyedSince: 3 });

    // Someone with INSERT on the outbox but without the key forges an entry; a later genuine one waits behind it.
    await t.db.rows(sql`insert into audit_outbox (at, actor_type, actor_id, action, subject_type, subject_id, data)
      values (now(), 'user', 'ceo', 'gate.override.approved', 'override', 'o1', '{"complete": true}')`);
    await record(keyed, 'k1');
    await expect(keyed.flush()).rejects.toThrow(/does not carry a valid MAC for QUENCH_AUDIT_KEY/);
    // A MAC made with another key is no better.
    const other = createAuditTrail(t.db, systemClock, { key: `${KEY}-other` });
    await expect(other.flush()).rejects.toThrow(/matches neither QUENCH_AUDIT_KEY/);
    expect(await count(t.db, 'audit_events')).toBe(4);
    expect(await count(t.db, 'audit_outbox')).toBe(2);
    expect(await keyed.verify()).toMatchObject({ ok: true, count: 4 });
  });

  it('an outbox row leaves only by being chained unchanged; it is never updated or truncated', async () => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, systemClock);
    await record(audit, 'a');
    await expect(t.db.rows(sql`delete from audit_outbox`)).rejects.toThrow();
    await expect(t.db.rows(sql`update audit_outbox set action = 'forged'`)).rejects.toThrow();
    await expect(t.db.rows(sql`truncate audit_outbox`)).rejects.toThrow();
    // A chain row naming the outbox entry but saying something else does not release it either.
    await t.db.orm.transaction(async (tx) => {
      await tx.execute(sql`insert into audit_events (seq, at, actor_type, actor_id, action, subject_type, subject_id, data, prev_hash, hash, outbox_id)
        select 1, at, actor_type, actor_id, 'forged', subject_type, subject_id, data, 'x', 'y', id from audit_outbox`);
      await expect(tx.execute(sql`delete from audit_outbox`)).rejects.toThrow();
    }).catch(() => {});
    expect(await count(t.db, 'audit_outbox')).toBe(1);
    await expectWhole(t.db, audit, 1);
  });

  it('a copy of a pending entry cannot release it unseen (seq below 1) nor be chained twice (keyed: the MAC covers the outbox id)', async () => {
    t = await freshDatabase(kind);
    const keyed = createAuditTrail(t.db, systemClock, { key: KEY });
    await keyed.prepare();
    await record(keyed, 'genuine');
    // Ghost release: a faithful copy at seq 0 or below would pass the release trigger, invisible to verify.
    await expect(
      t.db.rows(sql`insert into audit_events (seq, at, actor_type, actor_id, action, subject_type, subject_id, data, correlation_id, prev_hash, hash, outbox_id)
        select 0, at, actor_type, actor_id, action, subject_type, subject_id, data, correlation_id, 'x', 'y', id from audit_outbox`),
    ).rejects.toThrow();
    // Replay: the genuine row, MAC and all, under a new id.
    await t.db.rows(sql`insert into audit_outbox (at, actor_type, actor_id, action, subject_type, subject_id, data, correlation_id, mac)
      select at, actor_type, actor_id, action, subject_type, subject_id, data, correlation_id, mac from audit_outbox`);
    await keyed.flush(); // links the genuine entry and stops before the copy
    await expect(keyed.flush()).rejects.toThrow(/does not carry a valid MAC/);
    const entries = await keyed.page({});
    expect(entries.filter((e) => e.subject.id === 'genuine')).toHaveLength(1);
    expect(await keyed.verify()).toMatchObject({ ok: true, unchained: { entries: 1 } });
  });

  it('an outbox row is chained with its stored data exactly, even numbers JavaScript cannot hold (the release trigger compares them)', async () => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, systemClock);
    // A plain trail takes rows inserted by hand. Their data used to be re-serialised from its
    // JavaScript value, so the chain row said 12345678901234567000, the release trigger refused
    // the DELETE, and every pass failed on it for ever.
    const data = '{"big": 12345678901234567890, "exact": 1.50, "tiny": 1e-400}';
    await t.db.rows(sql`insert into audit_outbox (at, actor_type, actor_id, action, subject_type, subject_id, data)
      values (now(), 'system', 'hand', 'outbox.test', 'k', 'big', ${data}::jsonb)`);
    await record(audit, 'after');
    await audit.flush();
    expect(await count(t.db, 'audit_outbox')).toBe(0);
    const [row] = await t.db.rows<{ same: boolean }>(sql`select data = ${data}::jsonb and data::text = (${data}::jsonb)::text as same from audit_events where subject_id = 'big'`);
    expect(row?.same).toBe(true);
    expect(await audit.verify()).toMatchObject({ ok: true, count: 2 });
  });

  it('backlog and /readyz: an entry waiting longer than the limit makes the replica not ready until it is chained', async () => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, systemClock);
    const ready = auditReadiness(audit);
    expect(await ready()).toEqual({ ok: true });
    await record(audit, 'fresh');
    expect(await audit.backlog()).toMatchObject({ entries: 1 });
    expect(await ready()).toEqual({ ok: true });
    // As if chaining had stopped a minute ago.
    await t.db.rows(sql`insert into audit_outbox (at, actor_type, actor_id, action, subject_type, subject_id, data, enqueued_at)
      values (now(), 'system', 'test', 'outbox.test', 'k', 'old', '{"k": "old"}', now() - make_interval(secs => ${AUDIT_MAX_LAG_SECONDS + 30}))`);
    const backlog = await audit.backlog();
    expect(backlog.entries).toBe(2);
    expect(backlog.oldestSeconds).toBeGreaterThan(AUDIT_MAX_LAG_SECONDS);
    expect(await ready()).toMatchObject({ ok: false, reason: expect.stringMatching(/2 audit entries wait to be chained, the oldest for \d+ s \(limit 30 s\)/) });
    await audit.flush();
    expect(await audit.backlog()).toEqual({ entries: 0, oldestSeconds: 0 });
    expect(await ready()).toEqual({ ok: true });
  });

  it('a transaction that committed before another began comes first, whichever drew its id first', async () => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, systemClock);
    await t.db.orm.transaction(async (tx) => {
      await record(audit, 'A1', tx);
      await record(audit, 'A2', tx);
    });
    await t.db.orm.transaction(async (tx) => {
      await record(audit, 'B1', tx);
    });
    expect((await audit.page({})).map((e) => e.subject.id)).toEqual(['A1', 'A2', 'B1']);
  });
  it.each([
    ['plain', undefined],
    ['keyed', KEY],
  ])('a batch of entries (%s) keeps its order and every value exactly, whatever characters it holds', async (_mode, key) => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, systemClock, { key });
    await audit.prepare();
    // Values that an array literal, a jsonb cast or a text cast could mangle: quotes, backslashes,
    // braces and commas, NULL-looking text, empty strings, newlines, non-ASCII, nested JSON.
    const awkward = ['"quoted"', 'back\\slash', '{a,b}', 'NULL', '', 'line\nbreak', 'ünïcødé ✓ 火', ' padded ', '\\"both\\"'];
    const inputs = Array.from({ length: 120 }, (_, i) => {
      const text = awkward[i % awkward.length]!;
      return {
        actor: { type: i % 2 ? ('user' as const) : ('system' as const), id: `${text}-actor-${i}` },
        action: `batch.${i % 3}`,
        subject: { type: text || 'empty', id: `${text}#${i}` },
        data: { i, text, nested: { list: [text, null, i, { deep: text }], flag: i % 2 === 0 }, empty: {} },
        correlationId: i % 4 === 0 ? null : `corr-${text}-${i}`,
      };
    });
    const pending = await audit.appendMany(inputs);
    expect(pending.map((p) => p.outboxId)).toEqual([...pending.map((p) => p.outboxId)].sort((a, b) => a - b));
    await audit.flush();
    const chained = (await audit.page({ limit: 500 })).filter((e) => e.action.startsWith('batch.'));
    expect(chained.map((e) => ({ actor: e.actor, action: e.action, subject: e.subject, data: e.data, correlationId: e.correlationId }))).toEqual(inputs);
    expect(await audit.verify()).toMatchObject({ ok: true });
  });

});

describe.skipIf(!TEST_DATABASE_URL)('audit chainer under concurrency and crashes (PostgreSQL)', () => {
  let t: TestDatabase;
  const opened: Database[] = [];
  const open = async (poolMax = 4) => {
    const db = await openDatabase({ url: t.url!, poolMax });
    opened.push(db);
    return db;
  };
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close().catch(() => {});
    await t?.dispose();
  });

  it('a chainer killed between the chain INSERT and the outbox DELETE rolls back whole; the next one chains each entry once', async () => {
    t = await freshDatabase('postgres');
    const writer = createAuditTrail(t.db, systemClock);
    for (let i = 0; i < 30; i++) await record(writer, `e${i}`);
    const crashDb = await open(1);
    let reached!: () => void;
    const atFault = new Promise<void>((resolve) => (reached = resolve));
    const crashing = createAuditTrail(crashDb, systemClock, {
      faults: {
        afterInsert: async (tx) => {
          const [row] = await crashDb.rows<{ pid: number }>(sql`select pg_backend_pid() as pid`, tx);
          reached();
          // The process "dies" here: the server ends its session mid-transaction.
          const admin = postgres(t.url!, { max: 1, onnotice: () => {} });
          await admin`select pg_terminate_backend(${row!.pid})`;
          await admin.end();
          await new Promise((r) => setTimeout(r, 50));
        },
      },
    });
    await expect(crashing.flush()).rejects.toThrow();
    await atFault;
    expect(await count(t.db, 'audit_events')).toBe(0);
    expect(await count(t.db, 'audit_outbox')).toBe(30);
    await expectWhole(t.db, writer, 30);
    expect((await writer.page({ limit: 1000 })).map((e) => e.subject.id)).toEqual(Array.from({ length: 30 }, (_, i) => `e${i}`));
  });

  it('an outbox row deleted behind the trigger while a pass links it fails that pass whole instead of leaving a gap', async () => {
    t = await freshDatabase('postgres');
    const writer = createAuditTrail(t.db, systemClock);
    for (let i = 0; i < 5; i++) await record(writer, `e${i}`);
    let struck = false;
    const audit = createAuditTrail(t.db, systemClock, {
      faults: {
        afterRead: async () => {
          if (struck) return;
          struck = true;
          // Its owner (here a superuser) deletes a row with the triggers off, on another session.
          const admin = postgres(t.url!, { max: 1, onnotice: () => {} });
          await admin.begin(async (a) => {
            await a`set local session_replication_role = replica`;
            await a`delete from audit_outbox where subject_id = 'e2'`;
          });
          await admin.end();
        },
      },
    });
    await expect(audit.flush()).rejects.toThrow(/vanished/);
    expect(await count(t.db, 'audit_events')).toBe(0);
    await audit.flush();
    expect(await audit.verify()).toMatchObject({ ok: true, count: 4 });
    expect((await audit.page({})).map((e) => e.subject.id)).toEqual(['e0', 'e1', 'e3', 'e4']);
  });

  it('two chainers started at once, with writers on four connections: one chain, no fork, gap, duplicate or loss', async () => {
    t = await freshDatabase('postgres');
    const chainers = await Promise.all([open(), open()]);
    const trails = chainers.map((db) => createAuditTrail(db, systemClock, { key: KEY }));
    await Promise.all(trails.map((a) => a.prepare()));
    const errors: unknown[] = [];
    for (const a of trails) a.startChaining({ onError: (err) => errors.push(err), pollMs: 5 });
    const writers = await Promise.all([open(2), open(2), open(2), open(2)]);
    await Promise.all(
      writers.map(async (db, w) => {
        const audit = createAuditTrail(db, systemClock, { key: KEY });
        for (let i = 0; i < 150; i++) {
          await db.orm.transaction(async (tx) => {
            await record(audit, `w${w}-${i}-a`, tx);
            await record(audit, `w${w}-${i}-b`, tx);
          });
        }
      }),
    );
    await waitFor('the chainers to drain the outbox', async () => (await count(t.db, 'audit_outbox')) === 0, 30_000);
    await Promise.all(trails.map((a) => a.stopChaining()));
    expect(errors).toEqual([]);
    await expectWhole(t.db, trails[0]!, 1200);
    // Both chainers took part (each pass took the lock or gave way), and each writer's order held.
    const entries = await trails[0]!.page({ limit: 1000 }).then(async (first) => [...first, ...(await trails[0]!.page({ after: 1000, limit: 1000 }))]);
    for (let w = 0; w < 4; w++) {
      const mine = entries.filter((e) => e.subject.id.startsWith(`w${w}-`)).map((e) => e.subject.id);
      expect(mine).toEqual(Array.from({ length: 150 }, (_, i) => [`w${w}-${i}-a`, `w${w}-${i}-b`]).flat());
    }
  });

  it('a session squatting on the chainer lock cannot hang readers: they read what is chained', async () => {
    t = await freshDatabase('postgres');
    const audit = createAuditTrail(t.db, systemClock);
    await record(audit, 'before');
    await audit.flush();
    await record(audit, 'pending');
    const squatter = postgres(t.url!, { max: 1, onnotice: () => {} });
    try {
      await squatter`select pg_advisory_lock(7262617313)`;
      expect((await audit.page({})).map((e) => e.subject.id)).toEqual(['before']);
      expect(await audit.verify()).toMatchObject({ ok: true, count: 1, unchained: { entries: 1 } });
    } finally {
      await squatter.end();
    }
    expect((await audit.page({})).map((e) => e.subject.id)).toEqual(['before', 'pending']);
  });

  it('changes serialised by a row lock are chained in lock order, even when the later one started first', async () => {
    t = await freshDatabase('postgres');
    await t.db.rows(sql`create table run_probe (id text primary key, transitions int not null)`);
    await t.db.rows(sql`insert into run_probe values ('r1', 0)`);
    const a = await open(2);
    const b = await open(2);
    const auditA = createAuditTrail(a, systemClock);
    const auditB = createAuditTrail(b, systemClock);
    let releaseA!: () => void;
    const aHolds = new Promise<void>((r) => (releaseA = r));
    let aLocked!: () => void;
    const aHasLock = new Promise<void>((r) => (aLocked = r));
    // B begins first and writes (gets its transaction id) before A; then waits on A's row lock.
    let bStarted!: () => void;
    const bHasXid = new Promise<void>((r) => (bStarted = r));
    const txB = b.orm.transaction(async (tx) => {
      await tx.execute(sql`insert into run_probe values ('other', 0)`);
      bStarted();
      await aHasLock;
      const [row] = await b.rows<{ transitions: number }>(sql`update run_probe set transitions = transitions + 1 where id = 'r1' returning transitions`, tx);
      await record(auditB, `transition-${row!.transitions}`, tx);
    });
    await bHasXid;
    const txA = a.orm.transaction(async (tx) => {
      const [row] = await a.rows<{ transitions: number }>(sql`update run_probe set transitions = transitions + 1 where id = 'r1' returning transitions`, tx);
      aLocked();
      await aHolds;
      await record(auditA, `transition-${row!.transitions}`, tx);
    });
    await aHasLock;
    await new Promise((r) => setTimeout(r, 100)); // B is now blocked on the row lock
    releaseA();
    await Promise.all([txA, txB]);
    const entries = await auditA.page({});
    expect(entries.map((e) => e.subject.id)).toEqual(['transition-1', 'transition-2']);
  });

  it('a transaction that committed before another began comes first although it began after that one drew a sequence value', async () => {
    t = await freshDatabase('postgres');
    const a = await open(2);
    const audit = createAuditTrail(a, systemClock);
    // A long transaction L records first but commits last; S records and commits meanwhile.
    let finishLong!: () => void;
    const longMayCommit = new Promise<void>((r) => (finishLong = r));
    let longRecorded!: () => void;
    const recorded = new Promise<void>((r) => (longRecorded = r));
    const long = a.orm.transaction(async (tx) => {
      await record(audit, 'L', tx);
      longRecorded();
      await longMayCommit;
    });
    await recorded;
    await a.orm.transaction(async (tx) => record(audit, 'S', tx));
    // S is committed and L is not: the chain holds S alone; L can never be linked before it.
    expect((await audit.page({})).map((e) => e.subject.id)).toEqual(['S']);
    finishLong();
    await long;
    await a.orm.transaction(async (tx) => record(audit, 'T', tx));
    expect((await audit.page({})).map((e) => e.subject.id)).toEqual(['S', 'L', 'T']);
    expect(await audit.verify()).toMatchObject({ ok: true, count: 3 });
  });
});
