/**
 * The audit entry and its canonical form: pure, no I/O. The hash of an entry is SHA-256 over
 * `canonicalJson(hashedFields(entry))`, and `hashedFields` includes the previous entry's hash,
 * which is what chains the trail.
 */
export interface Actor {
  /** `user` for people (Slack or API identity), `system` for a Quench component. */
  type: 'user' | 'system';
  id: string;
}

export interface Subject {
  type: string;
  id: string;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface AuditEntryInput {
  actor: Actor;
  action: string;
  subject: Subject;
  data?: Record<string, unknown>;
  correlationId?: string | null;
}

export interface AuditEvent {
  seq: number;
  at: Date;
  actor: Actor;
  action: string;
  subject: Subject;
  data: Record<string, JsonValue>;
  correlationId: string | null;
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/**
 * Deterministic JSON: object keys sorted, no whitespace, `undefined` dropped as JSON does.
 * Built by appending to one string (no per-object key, filter and join arrays): the chainer
 * runs it for every entry it links, and verify for every entry it checks.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      // A hole of a sparse array stays empty, as `map(…).join(',')` (the first version) wrote it.
      out += (i === 0 ? '' : ',') + (i in value ? canonicalJson(v === undefined ? null : v) : '');
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * `canonicalJson` of an object whose keys are `sortedKeys` (already in sort order), written
 * without building the object: the same text, as the unit tests check against `canonicalJson`.
 */
function canonicalFields(sortedKeys: readonly string[], values: readonly unknown[]): string {
  let out = '{';
  let first = true;
  for (let i = 0; i < sortedKeys.length; i++) {
    const v = values[i];
    if (v === undefined) continue;
    out += `${first ? '' : ','}"${sortedKeys[i]!}":${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

// Sorted as `canonicalJson` sorts them (plain ASCII names, so no key needs escaping).
const HASHED_KEYS = ['action', 'actor', 'at', 'correlationId', 'data', 'prevHash', 'seq', 'subject'] as const;
const PENDING_KEYS = ['action', 'actor', 'at', 'correlationId', 'data', 'id', 'outbox', 'subject'] as const;

/** What the hash covers: every column but the hash itself. */
export function hashedFields(entry: Omit<AuditEvent, 'hash'>): string {
  return canonicalFields(HASHED_KEYS, [
    entry.action,
    entry.actor,
    entry.at.toISOString(),
    entry.correlationId,
    entry.data,
    entry.prevHash,
    entry.seq,
    entry.subject,
  ]);
}

/** Data as it will read back from jsonb: JSON round-tripped, so the hash is reproducible. */
export function normaliseData(data: Record<string, unknown> | undefined): Record<string, JsonValue> {
  return data === undefined ? {} : (JSON.parse(JSON.stringify(data)) as Record<string, JsonValue>);
}

export type ChainBreak =
  | { kind: 'gap'; seq: number; expected: number }
  | { kind: 'broken_link'; seq: number }
  | { kind: 'hash_mismatch'; seq: number };

/**
 * Checks one entry against its predecessor. `computeHash` is passed in so this stays free of
 * Node's crypto module.
 */
export function checkLink(
  entry: AuditEvent,
  previous: { seq: number; hash: string },
  computeHash: (canonical: string) => string,
): ChainBreak | undefined {
  if (entry.seq !== previous.seq + 1) return { kind: 'gap', seq: entry.seq, expected: previous.seq + 1 };
  if (entry.prevHash !== previous.hash) return { kind: 'broken_link', seq: entry.seq };
  if (computeHash(hashedFields(entry)) !== entry.hash) return { kind: 'hash_mismatch', seq: entry.seq };
  return undefined;
}

export function describeBreak(b: ChainBreak): string {
  switch (b.kind) {
    case 'gap':
      return `entry ${b.seq}: gap in the sequence (expected ${b.expected}); entries were removed`;
    case 'broken_link':
      return `entry ${b.seq}: broken link (its prev_hash is not the hash of entry ${b.seq - 1})`;
    case 'hash_mismatch':
      return `entry ${b.seq}: hash mismatch (its contents were altered after it was written)`;
  }
}

/**
 * What an outbox entry's MAC covers (keyed trails): the recorded change and its time, with a
 * label so the MAC can never pass for a chain hash. The chainer links only entries whose MAC
 * its key reproduces, so a row inserted into the outbox by someone without the key is never
 * given a valid keyed link, nor is a replayed copy of a genuine one.
 */
export function pendingFields(entry: {
  id: number;
  at: Date;
  actor: Actor;
  action: string;
  subject: Subject;
  data: Record<string, unknown>;
  correlationId: string | null;
}): string {
  // The outbox id is unique for ever (and audit_events.outbox_id too): a copy of a pending row
  // under a new id fails the MAC, under the same id it cannot be chained twice.
  return canonicalFields(PENDING_KEYS, [
    entry.action,
    entry.actor,
    entry.at.toISOString(),
    entry.correlationId,
    entry.data,
    entry.id,
    'quench audit outbox entry',
    entry.subject,
  ]);
}
