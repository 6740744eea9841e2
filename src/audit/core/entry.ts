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

/** Deterministic JSON: object keys sorted, no whitespace, `undefined` dropped as JSON does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const keys = Object.keys(value as object)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** What the hash covers: every column but the hash itself. */
export function hashedFields(entry: Omit<AuditEvent, 'hash'>): string {
  return canonicalJson({
    seq: entry.seq,
    at: entry.at.toISOString(),
    actor: entry.actor,
    action: entry.action,
    subject: entry.subject,
    data: entry.data,
    correlationId: entry.correlationId,
    prevHash: entry.prevHash,
  });
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
  return canonicalJson({
    outbox: 'quench audit outbox entry',
    // The outbox id is unique for ever (and audit_events.outbox_id too): a copy of a pending row
    // under a new id fails the MAC, under the same id it cannot be chained twice.
    id: entry.id,
    at: entry.at.toISOString(),
    actor: entry.actor,
    action: entry.action,
    subject: entry.subject,
    data: entry.data,
    correlationId: entry.correlationId,
  });
}
