/**
 * How the chain is extended and walked: pure, no I/O, no crypto module (hash functions are
 * passed in). Whoever appends (today the locked transaction in ../trail.ts, later a single
 * chainer) calls `decideAppend` and `linkEntry`; whoever verifies folds `advanceChain` over the
 * entries in sequence order and ends with `finishChain`.
 *
 * Two link modes. `plain`: hash = SHA-256(canonical). `keyed`: hash = HMAC-SHA256(key,
 * canonical), so whoever can write the table but does not hold the key cannot recompute the
 * chain. A chain starts plain and turns keyed at a marker entry (`KEYED_MARKER_ACTION`, itself
 * keyed, naming the key's id); from the marker on every entry is keyed and the chain never turns
 * back. The marker is what lets an existing plain trail adopt a key without rewriting history.
 */
import {
  type AuditEntryInput,
  type AuditEvent,
  type ChainBreak,
  checkLink,
  describeBreak,
  GENESIS_HASH,
  hashedFields,
  type JsonValue,
  normaliseData,
} from './entry.js';

export type LinkMode = 'plain' | 'keyed';

export interface ChainHashers {
  /** SHA-256 (hex) of the canonical form. */
  plain: (canonical: string) => string;
  /** HMAC-SHA256 (hex) with the configured key, and the key's public id; absent without a key. */
  keyed?: { hash: (canonical: string) => string; keyId: string };
}

export const KEYED_MARKER_ACTION = 'audit.hmac_enabled';

export interface Link {
  seq: number;
  hash: string;
}

/** The entry that switches a chain to HMAC; appended by the first writer that holds a key. */
export function keyedMarker(keyId: string): AuditEntryInput {
  return {
    actor: { type: 'system', id: 'audit' },
    action: KEYED_MARKER_ACTION,
    subject: { type: 'audit_chain', id: 'audit_events' },
    data: { algorithm: 'hmac-sha256', keyId },
  };
}

function isMarker(entry: AuditEvent): boolean {
  return entry.action === KEYED_MARKER_ACTION && entry.actor.type === 'system';
}

function markerKeyId(entry: AuditEvent): string {
  const id = entry.data.keyId;
  return typeof id === 'string' ? id : '(none recorded)';
}

/**
 * The next entry after `previous` (undefined: the first entry), hashed with `computeHash`.
 * `normalised`: `input.data` was read back from jsonb (JSON.parse output), so the JSON round
 * trip of `normaliseData` would return the same value and is skipped.
 */
export function linkEntry(
  previous: Link | undefined,
  input: AuditEntryInput,
  at: Date,
  computeHash: (canonical: string) => string,
  normalised = false,
): AuditEvent {
  const unsigned = {
    seq: (previous?.seq ?? 0) + 1,
    at,
    actor: input.actor,
    action: input.action,
    subject: input.subject,
    data: normalised ? (input.data as Record<string, JsonValue>) : normaliseData(input.data),
    correlationId: input.correlationId ?? null,
    prevHash: previous?.hash ?? GENESIS_HASH,
  };
  return { ...unsigned, hash: computeHash(hashedFields(unsigned)) };
}

export type AppendDecision =
  | { kind: 'append'; mode: LinkMode }
  /** A key is configured and the chain is still plain: append the marker first, then the entry. */
  | { kind: 'mark_then_append' }
  | { kind: 'refuse'; reason: string };

/**
 * The newest entry a writer process has seen or written, and whether it was keyed under the
 * writer's key. Kept in the process's memory, out of reach of whoever can rewrite the table:
 * the chain only grows, and never turns back from keyed, so a head older than this, or a plain
 * head after a keyed one, was cut or rewritten behind the writer's back.
 */
export interface SeenHead {
  seq: number;
  keyed: boolean;
}

/** The later of two seen heads (passes of one process may report out of order). */
export const laterHead = (a: SeenHead | undefined, b: SeenHead): SeenHead => (a && a.seq > b.seq ? a : b);

/** Whether `head` is an HMAC link under the writer's key (what `SeenHead.keyed` records). */
export const keyedUnder = (head: AuditEvent | undefined, hashers: ChainHashers): boolean =>
  head !== undefined && hashers.keyed !== undefined && hashers.keyed.hash(hashedFields(head)) === head.hash;

/**
 * Why `head` cannot be the chain `seen` was part of, or undefined when it can. `keyedHead`: the
 * head authenticates under the writer's key (`keyedUnder`, computed by the caller, who needs it anyway).
 */
export function headRegression(seen: SeenHead | undefined, head: Link | undefined, keyedHead: boolean): string | undefined {
  if (!seen) return undefined;
  const advice = 'Chaining stops here: treat it as a security incident and compare the trail with the published heads (`quench audit verify --expect SEQ:HASH`, docs/database-roles.md)';
  if (!head) return `the audit trail is empty, but this process saw entry ${seen.seq}: every entry was deleted. ${advice}`;
  if (head.seq < seen.seq) {
    return `the newest audit entry is ${head.seq}, but this process saw entry ${seen.seq}: entries were cut from the end. ${advice}`;
  }
  if (seen.keyed && !keyedHead) {
    return (
      `the audit trail was HMAC-keyed up to entry ${seen.seq} as this process saw it, but its newest entry ${head.seq} is a plain SHA-256 link: ` +
      `the trail was rewritten without the key (or that entry altered). ${advice}`
    );
  }
  return undefined;
}

/**
 * Whether a writer holding `hashers` may extend a chain whose newest entry is `head`. The head
 * must authenticate under the writer's mode: a writer never extends an entry it cannot check,
 * so a service started without the key (or with another key) stops at once instead of
 * appending plain entries after keyed ones. `seen`: what this writer saw before; a head that
 * went back from it is refused, where a writer without that memory would see a plain trail to
 * key (a marker would bless the forgery).
 */
export function decideAppend(head: AuditEvent | undefined, hashers: ChainHashers, seen?: SeenHead): AppendDecision {
  const canonical = head && hashedFields(head);
  const keyedHead = keyedUnder(head, hashers);
  const regression = headRegression(seen, head, keyedHead);
  if (regression) return { kind: 'refuse', reason: regression };
  if (hashers.keyed) {
    if (!head) return { kind: 'mark_then_append' };
    if (keyedHead) return { kind: 'append', mode: 'keyed' };
    if (hashers.plain(canonical!) === head.hash) return { kind: 'mark_then_append' };
    return {
      kind: 'refuse',
      reason:
        `the newest audit entry (${head.seq}) matches neither QUENCH_AUDIT_KEY (key id ${hashers.keyed.keyId}) nor plain SHA-256: ` +
        'the trail was written with another key, or that entry was altered. Run `quench audit verify` with the original key',
    };
  }
  if (!head || hashers.plain(canonical!) === head.hash) return { kind: 'append', mode: 'plain' };
  return {
    kind: 'refuse',
    reason:
      `the newest audit entry (${head.seq}) is not a plain SHA-256 link: the trail is HMAC-keyed, so set QUENCH_AUDIT_KEY ` +
      'to the key it was written with, or that entry was altered (run `quench audit verify`)',
  };
}

export type VerifyBreak =
  | ChainBreak
  /** A keyed entry, but no key was given to check it. */
  | { kind: 'key_required'; seq: number; keyId: string }
  /** The chain is keyed with another key than the one given. */
  | { kind: 'key_mismatch'; seq: number; keyId: string; givenKeyId: string }
  /** After the marker, an entry that is a valid plain SHA-256 link: written or rewritten without the key. */
  | { kind: 'unkeyed_entry'; seq: number; keyedSince: number }
  /** A key was given but no entry is keyed. */
  | { kind: 'not_keyed'; seq: number }
  /** A head recorded elsewhere (`--expect SEQ:HASH`) differs from the entry now stored. */
  | { kind: 'expected_head_mismatch'; seq: number; expected: string; actual: string }
  /** The chain ends before a recorded head: entries were cut from the end. */
  | { kind: 'expected_head_missing'; seq: number; lastSeq: number };

export interface ChainState {
  previous: Link;
  mode: LinkMode;
  keyedSince: number | null;
  count: number;
}

export const initialChainState: ChainState = { previous: { seq: 0, hash: GENESIS_HASH }, mode: 'plain', keyedSince: null, count: 0 };

/** Heads recorded elsewhere, by sequence number. */
export type ExpectedHeads = ReadonlyMap<number, string>;

/** Checks one entry (entries in sequence order) and returns the state after it, or the break. */
export function advanceChain(
  state: ChainState,
  entry: AuditEvent,
  hashers: ChainHashers,
  expected: ExpectedHeads = new Map(),
): { state: ChainState } | { broken: VerifyBreak } {
  let mode = state.mode;
  let keyedSince = state.keyedSince;
  if (isMarker(entry) || mode === 'keyed') {
    const keyId = isMarker(entry) ? markerKeyId(entry) : undefined;
    if (!hashers.keyed) return { broken: { kind: 'key_required', seq: entry.seq, keyId: keyId ?? '(see the marker entry)' } };
    if (keyId !== undefined && keyId !== hashers.keyed.keyId) {
      return { broken: { kind: 'key_mismatch', seq: entry.seq, keyId, givenKeyId: hashers.keyed.keyId } };
    }
    mode = 'keyed';
    keyedSince ??= entry.seq;
  }
  const computeHash = mode === 'keyed' ? hashers.keyed!.hash : hashers.plain;
  const broken = checkLink(entry, state.previous, computeHash);
  if (broken) {
    if (broken.kind === 'hash_mismatch' && mode === 'keyed' && hashers.plain(hashedFields(entry)) === entry.hash) {
      return { broken: { kind: 'unkeyed_entry', seq: entry.seq, keyedSince: keyedSince! } };
    }
    return { broken };
  }
  const recorded = expected.get(entry.seq);
  if (recorded !== undefined && recorded !== entry.hash) {
    return { broken: { kind: 'expected_head_mismatch', seq: entry.seq, expected: recorded, actual: entry.hash } };
  }
  return { state: { previous: { seq: entry.seq, hash: entry.hash }, mode, keyedSince, count: state.count + 1 } };
}

/** The checks that need the whole chain walked: recorded heads beyond the end, a key never used. */
export function finishChain(state: ChainState, hashers: ChainHashers, expected: ExpectedHeads = new Map()): VerifyBreak | undefined {
  const beyond = [...expected.keys()].filter((seq) => seq > state.previous.seq).sort((a, b) => a - b)[0];
  if (beyond !== undefined) return { kind: 'expected_head_missing', seq: beyond, lastSeq: state.previous.seq };
  if (hashers.keyed && state.mode === 'plain' && state.count > 0) return { kind: 'not_keyed', seq: state.previous.seq };
  return undefined;
}

export function describeVerifyBreak(b: VerifyBreak): string {
  switch (b.kind) {
    case 'gap':
    case 'broken_link':
    case 'hash_mismatch':
      return describeBreak(b);
    case 'key_required':
      return `entry ${b.seq}: the trail is HMAC-keyed from here (key id ${b.keyId}); set QUENCH_AUDIT_KEY to that key to verify it`;
    case 'key_mismatch':
      return `entry ${b.seq}: the trail is keyed with key id ${b.keyId}, but QUENCH_AUDIT_KEY has key id ${b.givenKeyId}; use the key the trail was written with`;
    case 'unkeyed_entry':
      return `entry ${b.seq}: hashed with plain SHA-256 although the trail is HMAC-keyed since entry ${b.keyedSince}; it was written or rewritten without the key`;
    case 'not_keyed':
      return (
        `QUENCH_AUDIT_KEY is set but no entry up to ${b.seq} is keyed: either the service has not run with this key yet, ` +
        'or the keyed entries were rewritten without it (check against a recorded head with --expect)'
      );
    case 'expected_head_mismatch':
      return `entry ${b.seq}: hash ${b.actual} differs from the recorded head ${b.expected}; the trail was rewritten at or before this entry`;
    case 'expected_head_missing':
      return `the trail ends at entry ${b.lastSeq}, before the recorded head ${b.seq}; entries were cut from the end`;
  }
}

/** Parses `SEQ:HASH` (as `quench audit verify` and the published head log line print it). */
export function parseExpectedHead(text: string): { seq: number; hash: string } | { error: string } {
  const match = /^(\d{1,15}):([0-9a-f]{64})$/.exec(text.trim().toLowerCase());
  if (!match || Number(match[1]) < 1) {
    return { error: `expected SEQ:HASH (a sequence number from 1 and the entry's 64-hex-digit hash, e.g. 42:3f0a…), got "${text.slice(0, 100)}"` };
  }
  return { seq: Number(match[1]), hash: match[2]! };
}

/** A pending (outbox) entry: the recorded change and its time, not yet linked. */
export interface PendingEntry {
  input: AuditEntryInput;
  at: Date;
  /** Whether its MAC verifies under the writer's key (keyed trails; plain trails ignore it). */
  authentic: boolean;
  /** `input.data` was read back from jsonb, so it is linked as it is (`linkEntry`). */
  normalised?: boolean;
}

/**
 * Links `pending` (already in chain order) after `head`, as one chainer batch. Each result
 * keeps the index of its pending entry (`source`; undefined for the marker), so the caller
 * records which outbox row became which link.
 *
 * On a plain chain a writer holding a key first links, as plain links, the entries recorded
 * without the key (they were written while the trail was plain), then the marker (timed like
 * the first keyed entry), then the authenticated entries. After the marker an entry whose MAC
 * does not verify is refused: linking it would vouch for a row someone inserted without the key.
 * The batch then ends before it (`refused` says why), and the next batch starts with it.
 * `seen` is the writer's memory of the chain (`decideAppend`); `mode` is the last link's mode,
 * for the writer to remember once the batch is committed. `mark: false` (readers): no marker
 * after a plain entry, the batch ends before the first keyed entry instead; a plain trail may be
 * a keyed one relinked without the key, and a writer without memory of it would bless it.
 */
export function linkBatch(
  head: AuditEvent | undefined,
  pending: readonly PendingEntry[],
  hashers: ChainHashers,
  seen?: SeenHead,
  mark = true,
): { entries: Array<{ entry: AuditEvent; source?: number }>; refused?: string; mode: LinkMode } {
  const decision = decideAppend(head, hashers, seen);
  if (decision.kind === 'refuse') return { entries: [], refused: decision.reason, mode: 'plain' };
  let mode: LinkMode = decision.kind === 'append' ? decision.mode : 'plain';
  const entries: Array<{ entry: AuditEvent; source?: number }> = [];
  let previous: Link | undefined = head;
  for (const [source, p] of pending.entries()) {
    if (decision.kind === 'mark_then_append' && mode === 'plain' && p.authentic) {
      if (!mark && previous) {
        return {
          entries,
          mode,
          refused:
            `the newest audit entry (${previous.seq}) is a plain SHA-256 link: a reader does not key the trail (the service does at start), ` +
            'since it may be a keyed trail relinked without the key. Run `quench audit verify` (with --expect SEQ:HASH) and start the service',
        };
      }
      const marker = linkEntry(previous, keyedMarker(hashers.keyed!.keyId), p.at, hashers.keyed!.hash);
      entries.push({ entry: marker });
      previous = marker;
      mode = 'keyed';
    }
    if (mode === 'keyed' && !p.authentic) {
      return {
        entries,
        mode,
        refused:
          `a pending audit entry (${p.input.action}, recorded ${p.at.toISOString()}) does not carry a valid MAC for QUENCH_AUDIT_KEY ` +
          `(key id ${hashers.keyed!.keyId}): it was recorded by a process without this key, or inserted or changed outside Quench. ` +
          'Chaining stops here; inspect audit_outbox and remove the row as the owner role (docs/database-roles.md)',
      };
    }
    const entry = linkEntry(previous, p.input, p.at, mode === 'keyed' ? hashers.keyed!.hash : hashers.plain, p.normalised);
    entries.push({ entry, source });
    previous = entry;
  }
  return { entries, mode };
}
