import { getTableName, is, sql } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import type { Database } from '../db/database.js';
import * as schema from '../db/schema.js';

/**
 * What the service's own database role may do, checked at start-up on PostgreSQL (PGlite has
 * one superuser and no roles). Two findings: the role can rewrite the audit trail (it owns
 * `audit_events`, is a superuser, or holds UPDATE/DELETE/TRUNCATE/TRIGGER on it), which is a
 * warning, since a single-role installation still works; and privileges the service needs but
 * lacks, which would otherwise surface as "permission denied" in the middle of an incident.
 */
export interface RoleReport {
  role: string;
  /** Why this role could rewrite the trail; empty when it can only read and append. */
  canRewriteTrail: string[];
  /** `table: PRIVILEGE` or `sequence: USAGE` entries the service needs and lacks. */
  missing: string[];
}

const TABLE_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
/**
 * The trail is read and appended to, nothing else; the outbox is read, appended to and
 * emptied by the chainer (its trigger lets a row go only once it is chained unchanged).
 */
const RESTRICTED_TABLES: Record<string, string[]> = {
  audit_events: ['SELECT', 'INSERT'],
  audit_outbox: ['SELECT', 'INSERT', 'DELETE'],
};

export function quenchTableNames(): string[] {
  return Object.values(schema)
    .filter((value) => is(value, PgTable))
    .map((table) => getTableName(table as PgTable))
    .sort();
}

export async function checkServiceRole(db: Database): Promise<RoleReport | undefined> {
  if (db.kind !== 'postgres') return undefined;
  const [trail] = await db.rows<{ role: string; superuser: boolean; owner: boolean; update: boolean; delete: boolean; truncate: boolean; trigger: boolean }>(sql`
    select current_user as role, r.rolsuper as superuser, pg_has_role(current_user, c.relowner, 'MEMBER') as owner,
      has_table_privilege(c.oid, 'UPDATE') as update, has_table_privilege(c.oid, 'DELETE') as delete,
      has_table_privilege(c.oid, 'TRUNCATE') as truncate, has_table_privilege(c.oid, 'TRIGGER') as trigger
    from pg_class c join pg_roles r on r.rolname = current_user
    where c.oid = 'audit_events'::regclass`);
  const canRewriteTrail: string[] = [];
  if (trail?.superuser) canRewriteTrail.push('it is a superuser');
  else if (trail?.owner) canRewriteTrail.push('it owns audit_events (ALTER TABLE … DISABLE TRIGGER)');
  for (const privilege of ['update', 'delete', 'truncate', 'trigger'] as const) {
    if (trail?.[privilege] && !trail.superuser && !trail.owner) canRewriteTrail.push(`it holds ${privilege.toUpperCase()} on audit_events`);
  }
  // The outbox holds entries not chained yet: changing them, emptying it or dropping its trigger rewrites history too.
  const [outbox] = await db.rows<{ owner: boolean; update: boolean; truncate: boolean; trigger: boolean }>(sql`
    select pg_has_role(current_user, c.relowner, 'MEMBER') as owner, has_table_privilege(c.oid, 'UPDATE') as update,
      has_table_privilege(c.oid, 'TRUNCATE') as truncate, has_table_privilege(c.oid, 'TRIGGER') as trigger
    from pg_class c where c.oid = to_regclass('audit_outbox')`);
  if (outbox && !trail?.superuser && !trail?.owner) {
    if (outbox.owner) canRewriteTrail.push('it owns audit_outbox (ALTER TABLE … DISABLE TRIGGER)');
    else
      for (const privilege of ['update', 'truncate', 'trigger'] as const) {
        if (outbox[privilege]) canRewriteTrail.push(`it holds ${privilege.toUpperCase()} on audit_outbox`);
      }
  }

  const tables = quenchTableNames();
  const names = sql`array[${sql.join(
    tables.map((t) => sql`${t}`),
    sql`, `,
  )}]::text[]`;
  const missingTables = await db.rows<{ item: string }>(sql`
    select t.name || ': ' || p.privilege as item
    from unnest(${names}) t(name)
    cross join unnest(array[${sql.join(
      TABLE_PRIVILEGES.map((p) => sql`${p}`),
      sql`, `,
    )}]::text[]) p(privilege)
    where to_regclass(quote_ident(t.name)) is not null
      and (${sql.join(
        Object.entries(RESTRICTED_TABLES).map(
          ([table, privileges]) =>
            sql`(t.name <> ${table} or p.privilege = any(array[${sql.join(
              privileges.map((p) => sql`${p}`),
              sql`, `,
            )}]::text[]))`,
        ),
        sql` and `,
      )})
      and not has_table_privilege(to_regclass(quote_ident(t.name)), p.privilege)
    order by 1`);
  // bigserial columns draw from sequences: inserting needs USAGE on them.
  const missingSequences = await db.rows<{ item: string }>(sql`
    select distinct s.relname || ': USAGE' as item
    from pg_class s
    join pg_depend d on d.classid = 'pg_class'::regclass and d.objid = s.oid and d.deptype in ('a', 'i')
    join pg_class t on t.oid = d.refobjid
    where s.relkind = 'S' and t.relname = any(${names}) and pg_table_is_visible(t.oid)
      -- CASE: the planner may evaluate this before relkind = 'S', and it errors on non-sequences.
      and case when s.relkind = 'S' then not has_sequence_privilege(s.oid, 'USAGE') else false end
    order by 1`);
  return {
    role: trail?.role ?? '(unknown)',
    canRewriteTrail,
    missing: [...missingTables, ...missingSequences].map((r) => r.item),
  };
}
