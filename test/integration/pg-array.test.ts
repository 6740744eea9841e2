import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { pgArray } from '../../src/db/rows.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';

/** Array literal parameters (src/db/rows.ts pgArray) come back from either driver as the strings given. */
describe.each(databaseKinds)('pgArray round trip (%s)', (kind) => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    await t?.dispose();
    t = undefined;
  });

  it('keeps quotes, backslashes, control characters and non-ASCII text as they were', async () => {
    t = await freshDatabase(kind, { migrate: false });
    // U+0000 and lone surrogates cannot be stored in text; everything else can.
    const values = ['', 'plain', '"', '\\', '\\"', 'a"b\\c', '{"id":"x","s":"q \\" b \\\\"}', 'line\nbreak', 'tab\tcr\r', '\u0001\u001f\u007f', 'é ü 😀', '\u2028', 'NULL', ',{}', 'x'.repeat(5000), null];
    const rows = await t.db.rows<{ v: string | null }>(sql`select v from unnest(${pgArray(values)}::text[]) with ordinality as u(v, n) order by n`);
    expect(rows.map((r) => r.v)).toEqual(values);
    const json = [JSON.stringify({ 'content-type': 'application/json', q: 'a"b\\c\nd' })];
    const parsed = await t.db.rows<{ j: unknown }>(sql`select (unnest(${pgArray(json)}::jsonb[]))::text as j`);
    expect(JSON.parse(parsed[0]!.j as string)).toEqual(JSON.parse(json[0]!));
  });
});
