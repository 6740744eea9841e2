import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkServiceRole } from '../../src/audit/role-check.js';
import { createAuditTrail } from '../../src/audit/trail.js';
import { systemClock } from '../../src/core/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { TEST_DATABASE_URL } from '../support/databases.js';
import { genericBody, signGeneric } from '../support/ingest-webhooks.js';
import { childEnv, repoRoot, runCli, startServe } from '../support/quench-process.js';
import { waitFor } from '../support/wait-for.js';

// The production role set-up of docs/database-roles.sql, run as written on a real PostgreSQL
// 15 with two non-superuser roles made for this test: migrations as the owner, the whole
// service as the service role, which cannot alter, rewrite or empty the audit trail.

const PLAYBOOK = `apiVersion: quench/v1
kind: Playbook
metadata:
  name: roles-check
  owner: platform
triggers:
  - source: generic:ops
    type: deploy.failed
steps:
  - id: note
    kind: action
    action: log
    params:
      message: deploy failed
  - id: ask
    kind: human
    type: approve
    prompt: Carry on?
  - id: done
    kind: action
    action: log
    params:
      message: carried on
`;
const SECRET = 'roles-webhook-secret';
const TOKEN = 'roles-test-token-0123456789abcdef0123';
const AUDIT_KEY = 'roles-test-audit-key-0123456789abcdef';

/** The statements of docs/database-roles.sql, before and after its `\connect`, with this test's names. */
function setupSql(names: { owner: string; service: string; database: string }): { cluster: string[]; database: string[] } {
  const text = readFileSync(join(repoRoot, 'docs/database-roles.sql'), 'utf8')
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .replaceAll("'change-me-owner'", `'pw-${names.owner}'`)
    .replaceAll("'change-me-service'", `'pw-${names.service}'`)
    .replaceAll('quench_owner', names.owner)
    .replaceAll('quench_service', names.service)
    .replace(/\bquench\b/g, names.database);
  const [cluster, database] = text.split(`\\connect ${names.database}`);
  const statements = (part: string) =>
    part
      .split(/;\s*$/m)
      .map((s) => s.trim())
      .filter(Boolean);
  return { cluster: statements(cluster!), database: statements(database!) };
}

describe.skipIf(!TEST_DATABASE_URL)('audit trail against its own database role (PostgreSQL)', () => {
  const id = randomBytes(4).toString('hex');
  const names = { owner: `qr_owner_${id}`, service: `qr_service_${id}`, database: `quench_roles_${id}` };
  const urlAs = (role: string | undefined, database = names.database) => {
    const url = new URL(TEST_DATABASE_URL!);
    if (role) {
      url.username = role;
      url.password = `pw-${role}`;
    }
    url.pathname = `/${database}`;
    return url.toString();
  };
  const ownerUrl = urlAs(names.owner);
  const serviceUrl = urlAs(names.service);
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  let admin: postgres.Sql;
  let dir: string;

  beforeAll(async () => {
    const cluster = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
    cleanups.push(async () => {
      await cluster.unsafe(`drop database if exists ${names.database} with (force)`);
      await cluster.unsafe(`drop role if exists ${names.owner}`);
      await cluster.unsafe(`drop role if exists ${names.service}`);
      await cluster.end();
    });
    const { cluster: clusterStatements, database: databaseStatements } = setupSql(names);
    for (const statement of clusterStatements) await cluster.unsafe(statement);
    admin = postgres(urlAs(undefined), { max: 1, onnotice: () => {} });
    cleanups.push(() => admin.end());
    for (const statement of databaseStatements) await admin.unsafe(statement);
    dir = mkdtempSync(join(tmpdir(), 'quench-roles-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'roles.yaml'), PLAYBOOK);
  }, 120_000);

  afterAll(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it('the roles are ordinary: neither is a superuser, the service is no member of the owner', async () => {
    const rows = await admin`select rolname, rolsuper, rolcanlogin from pg_roles where rolname in (${names.owner}, ${names.service}) order by rolname`;
    expect(rows.map((r) => [r.rolsuper, r.rolcanlogin])).toEqual([
      [false, true],
      [false, true],
    ]);
    const [member] = await admin`select pg_has_role(${names.service}, ${names.owner}, 'MEMBER') as m`;
    expect(member?.m).toBe(false);
  });

  it('the service role cannot apply migrations, and says how to', async () => {
    const result = await runCli(['migrate'], childEnv({ DATABASE_URL: serviceUrl }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/permission denied/);
    expect(result.stderr).toMatch(/QUENCH_MIGRATION_DATABASE_URL/);
  });

  it('quench migrate runs as QUENCH_MIGRATION_DATABASE_URL; the tables belong to the owner', async () => {
    const result = await runCli(['migrate'], childEnv({ QUENCH_MIGRATION_DATABASE_URL: ownerUrl }));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const owners = await admin`select distinct pg_get_userbyid(relowner) as owner from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'S')`;
    expect(owners.map((r) => r.owner)).toEqual([names.owner]);
    // With nothing pending, the service role's own start-up migration step touches nothing.
    const again = await runCli(['migrate'], childEnv({ DATABASE_URL: serviceUrl }));
    expect(again.stdout).toMatch(/schema is up to date/);
    expect(again.code).toBe(0);
  });

  it('the service role can read and append to audit_events but not alter, rewrite or empty it', async () => {
    const db = await openDatabase({ url: serviceUrl, poolMax: 2 });
    try {
      const audit = createAuditTrail(db, systemClock);
      await audit.append({ actor: { type: 'system', id: 'test' }, action: 'roles.probe', subject: { type: 't', id: '1' } });
      expect(await audit.verify()).toMatchObject({ ok: true, count: 1 });
      const report = await checkServiceRole(db);
      expect(report).toEqual({ role: names.service, canRewriteTrail: [], missing: [] });
    } finally {
      await db.close();
    }
    const service = postgres(serviceUrl, { max: 1, onnotice: () => {} });
    try {
      const refused = async (statement: string) => {
        const err = await service.unsafe(statement).then(
          () => undefined,
          (e: { code?: string; message: string }) => e,
        );
        expect(err, statement).toBeDefined();
        // insufficient_privilege: refused by the privilege system, before any trigger runs.
        expect(err!.code, `${statement}: ${err!.message}`).toBe('42501');
      };
      await refused('alter table audit_events disable trigger audit_events_no_update_delete');
      await refused('alter table audit_events disable trigger all');
      await refused(`alter table audit_events owner to ${names.service}`);
      await refused("update audit_events set action = 'forged'");
      await refused('delete from audit_events');
      await refused('truncate audit_events');
      await refused('drop table audit_events');
      await refused('drop trigger audit_events_no_update_delete on audit_events');
      await refused(`set role ${names.owner}`);
      await refused('create function quench_probe() returns int language sql as $$ select 1 $$');
      const [count] = await service`select count(*)::int as n from audit_events`;
      expect(count?.n).toBe(1);
      // The outbox (entries not chained yet): an entry leaves it only by being chained unchanged.
      await service`insert into audit_outbox (at, actor_type, actor_id, action, subject_type, subject_id, data) values (date_trunc('milliseconds', now()), 'system', 'test', 'roles.pending', 't', '2', '{}')`;
      await refused("update audit_outbox set action = 'forged'");
      await refused('delete from audit_outbox');
      await refused('truncate audit_outbox');
      await refused('alter table audit_outbox disable trigger all');
      await refused('drop trigger audit_outbox_release_only_chained on audit_outbox');
      const [pending] = await service`select count(*)::int as n from audit_outbox`;
      expect(pending?.n).toBe(1);
    } finally {
      await service.end();
    }
    // Chaining it is the one way out, and the service role may do that.
    const chainer = await openDatabase({ url: serviceUrl, poolMax: 1 });
    try {
      const audit = createAuditTrail(chainer, systemClock);
      expect(await audit.verify()).toMatchObject({ ok: true, count: 2 });
      expect(await chainer.rows(sql`select count(*)::int as n from audit_outbox`)).toEqual([{ n: 0 }]);
    } finally {
      await chainer.close();
    }
  });

  it('a table created by a later migration (as the owner) is usable by the service at once', async () => {
    const owner = postgres(ownerUrl, { max: 1, onnotice: () => {} });
    const service = postgres(serviceUrl, { max: 1, onnotice: () => {} });
    try {
      await owner`create table later_feature (id bigserial primary key, note text not null)`;
      const [row] = await service`insert into later_feature (note) values ('x') returning id`;
      await service`update later_feature set note = 'y' where id = ${row!.id}`;
      await service`delete from later_feature where id = ${row!.id}`;
      await owner`drop table later_feature`;
    } finally {
      await owner.end();
      await service.end();
    }
  });

  it('the whole service runs as the service role: a webhook starts a run, a decision completes it, the keyed trail verifies', async () => {
    const env = childEnv({
      DATABASE_URL: serviceUrl,
      QUENCH_AUDIT_KEY: AUDIT_KEY,
      QUENCH_PLAYBOOK_DIR: dir,
      QUENCH_SLO_DIR: join(dir, 'none'),
      QUENCH_WEBHOOK_SECRETS: `ops=${SECRET}`,
      QUENCH_API_TOKENS: `ada=${TOKEN}`,
      QUENCH_ENGINE_POLL_MS: '100',
    });
    const serve = await startServe(env);
    cleanups.push(() => serve.kill('SIGKILL'));
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${serve.url}/readyz`)).status).toBe(200);
    const body = genericBody('roles-1');
    const accepted = await fetch(`${serve.url}/webhooks/generic/ops`, { method: 'POST', body, headers: signGeneric(SECRET, body, Date.now() / 1000) });
    expect(accepted.status).toBe(202);
    const runId = await waitFor('the run to start', async () => {
      const { runs } = (await (await fetch(`${serve.url}/v1/runs`, { headers: auth })).json()) as { runs: Array<{ id: string }> };
      return runs[0]?.id;
    });
    const stepId = await waitFor('the approval step to wait', async () => {
      const run = (await (await fetch(`${serve.url}/v1/runs/${runId}`, { headers: auth })).json()) as {
        steps: Array<{ id: string; stepKey?: string; key?: string; status: string }>;
      };
      return run.steps.find((s) => s.status === 'waiting')?.id;
    });
    const decided = await fetch(`${serve.url}/v1/steps/${stepId}/decision`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approve' }),
    });
    expect(decided.status, await decided.clone().text()).toBeLessThan(300);
    await waitFor('the run to succeed', async () => {
      const run = (await (await fetch(`${serve.url}/v1/runs/${runId}`, { headers: auth })).json()) as { state: string };
      return run.state === 'succeeded';
    });
    // The published head, as an operator would ship it elsewhere.
    const heads = serve
      .output()
      .split('\n')
      .filter((line) => line.includes('"audit head"'))
      .map((line) => (JSON.parse(line) as { auditHead: { expect: string; mode: string } }).auditHead);
    expect(heads[0]?.mode).toBe('keyed');
    expect(serve.output()).not.toMatch(/can rewrite the audit trail|lacks privileges|permission denied/);
    serve.kill('SIGTERM');
    expect(await serve.exited).toBe(0);

    const verifyEnv = childEnv({ DATABASE_URL: serviceUrl, QUENCH_AUDIT_KEY: AUDIT_KEY });
    const verified = await runCli(['audit', 'verify', '--expect', heads[0]!.expect], verifyEnv);
    expect(verified.stderr).toBe('');
    expect(verified.stdout).toMatch(/audit trail intact: \d+ entries, head \d+:[0-9a-f]{64}, HMAC-keyed since entry 3, 1 recorded head\(s\) matched/);
    expect(verified.code).toBe(0);
    const actions = await admin`select action from audit_events order by seq`;
    expect(actions.map((r) => r.action)).toEqual(expect.arrayContaining(['audit.hmac_enabled', 'run.started']));
  }, 180_000);

  it('quench serve given both URLs migrates a new database as the owner and serves as the service role', async () => {
    const second = { ...names, database: `${names.database}_b` };
    const cluster = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
    cleanups.push(async () => {
      await cluster.unsafe(`drop database if exists ${second.database} with (force)`);
      await cluster.end();
    });
    const { cluster: clusterStatements, database: databaseStatements } = setupSql(second);
    // The roles exist already: only the database part of section 1.
    for (const statement of clusterStatements.filter((st) => !/^(CREATE|ALTER) ROLE/.test(st))) await cluster.unsafe(statement);
    const secondAdmin = postgres(urlAs(undefined, second.database), { max: 1, onnotice: () => {} });
    try {
      for (const statement of databaseStatements) await secondAdmin.unsafe(statement);
      const serve = await startServe(
        childEnv({
          DATABASE_URL: urlAs(names.service, second.database),
          QUENCH_MIGRATION_DATABASE_URL: urlAs(names.owner, second.database),
          QUENCH_PLAYBOOK_DIR: dir,
          QUENCH_SLO_DIR: join(dir, 'none'),
        }),
      );
      cleanups.push(() => serve.kill('SIGKILL'));
      expect((await fetch(`${serve.url}/readyz`)).status).toBe(200);
      expect(serve.output()).toMatch(/migrations applied/);
      expect(serve.output()).not.toMatch(/can rewrite the audit trail/);
      serve.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
      const owners = await secondAdmin`select distinct pg_get_userbyid(relowner) as owner from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'S')`;
      expect(owners.map((r) => r.owner)).toEqual([names.owner]);
    } finally {
      await secondAdmin.end();
    }
  }, 120_000);

  it('start-up refuses a service role that lacks a privilege it needs, naming the grant', async () => {
    await admin.unsafe(`revoke update on engine_runs from ${names.service}`);
    try {
      const result = await runCli(
        ['serve'],
        childEnv({ DATABASE_URL: serviceUrl, QUENCH_PLAYBOOK_DIR: dir, QUENCH_SLO_DIR: join(dir, 'none'), PORT: '0' }),
      );
      expect(result.code).toBe(1);
      expect(result.stdout + result.stderr).toMatch(/lacks privileges the service needs: engine_runs: UPDATE/);
    } finally {
      await admin.unsafe(`grant update on engine_runs to ${names.service}`);
    }
  });

  it('an existing single-role installation converts with the SQL of docs/database-roles.md', async () => {
    const single = `qr_single_${id}`;
    const owner = `qr_single_owner_${id}`;
    const database = `quench_single_${id}`;
    const cluster = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
    cleanups.push(async () => {
      await cluster.unsafe(`drop database if exists ${database} with (force)`);
      await cluster.unsafe(`drop role if exists ${single}`);
      await cluster.unsafe(`drop role if exists ${owner}`);
      await cluster.end();
    });
    await cluster.unsafe(`create role ${single} login password 'pw-${single}'`);
    await cluster.unsafe(`create database ${database} owner ${single}`);
    const singleUrl = urlAs(single, database);
    // Today's installation: one role migrates and serves, and owns (so can rewrite) the trail.
    const before = await openDatabase({ url: singleUrl, poolMax: 1 });
    try {
      await before.migrate();
      await createAuditTrail(before, systemClock).append({ actor: { type: 'system', id: 'test' }, action: 'before.split', subject: { type: 't', id: '1' } });
      expect((await checkServiceRole(before))?.canRewriteTrail).toEqual(['it owns audit_events (ALTER TABLE … DISABLE TRIGGER)']);
    } finally {
      await before.close();
    }

    const doc = readFileSync(join(repoRoot, 'docs/database-roles.md'), 'utf8');
    const block = /### An existing installation[\s\S]*?```sql\n([\s\S]*?)```/.exec(doc)![1]!;
    const statements = block
      .replaceAll("'change-me-owner'", `'pw-${owner}'`)
      .replaceAll('quench_owner', owner)
      .replace(/\bquench\b/g, single)
      .split('\n')
      .map((line) => line.replace(/--.*$/, ''))
      .join('\n')
      .split(/;\s*$/m)
      .map((x) => x.trim())
      .filter(Boolean);
    const dbAdmin = postgres(urlAs(undefined, database), { max: 1, onnotice: () => {} });
    try {
      for (const statement of statements) await dbAdmin.unsafe(statement);
    } finally {
      await dbAdmin.end();
    }

    const after = await openDatabase({ url: singleUrl, poolMax: 1 });
    try {
      expect(await checkServiceRole(after)).toEqual({ role: single, canRewriteTrail: [], missing: [] });
      const audit = createAuditTrail(after, systemClock);
      await audit.append({ actor: { type: 'system', id: 'test' }, action: 'after.split', subject: { type: 't', id: '2' } });
      expect(await audit.verify()).toMatchObject({ ok: true, count: 2 });
    } finally {
      await after.close();
    }
    const migrated = await runCli(['migrate'], childEnv({ QUENCH_MIGRATION_DATABASE_URL: urlAs(owner, database) }));
    expect(migrated.code).toBe(0);
  });

  it('a single role that owns the schema is reported as able to rewrite the trail, and serve warns (and needs the key)', async () => {
    const db = await openDatabase({ url: ownerUrl, poolMax: 1 });
    try {
      expect((await checkServiceRole(db))?.canRewriteTrail).toEqual(['it owns audit_events (ALTER TABLE … DISABLE TRIGGER)']);
    } finally {
      await db.close();
    }
    const env = { DATABASE_URL: ownerUrl, QUENCH_PLAYBOOK_DIR: dir, QUENCH_SLO_DIR: join(dir, 'none'), PORT: '0' };
    // The trail was keyed by the service above: without the key nothing may extend it.
    const keyless = await runCli(['serve'], childEnv(env));
    expect(keyless.code).toBe(1);
    expect(keyless.stderr).toMatch(/the trail is HMAC-keyed, so set QUENCH_AUDIT_KEY/);
    const serve = await startServe(childEnv({ ...env, QUENCH_AUDIT_KEY: AUDIT_KEY }));
    cleanups.push(() => serve.kill('SIGKILL'));
    const warning = serve
      .output()
      .split('\n')
      .find((line) => line.includes('can rewrite the audit trail'));
    expect(JSON.parse(warning!)).toMatchObject({ level: 'warn', role: names.owner, reasons: ['it owns audit_events (ALTER TABLE … DISABLE TRIGGER)'] });
    serve.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });
});
