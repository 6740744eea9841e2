import { describe, expect, it } from 'vitest';
import {
  advanceChain,
  type ChainState,
  decideAppend,
  describeVerifyBreak,
  finishChain,
  initialChainState,
  keyedMarker,
  linkBatch,
  linkEntry,
  parseExpectedHead,
  type VerifyBreak,
} from '../../../src/audit/core/chain.js';
import type { AuditEntryInput, AuditEvent } from '../../../src/audit/core/entry.js';
import { auditHashers } from '../../../src/audit/trail.js';

const at = new Date('2026-11-30T12:00:00.000Z');
const input = (i: number): AuditEntryInput => ({ actor: { type: 'system', id: 't' }, action: 'test', subject: { type: 's', id: String(i) }, data: { i } });
const plain = auditHashers();
const keyed = auditHashers('k'.repeat(32));
const otherKey = auditHashers('o'.repeat(32));

/** Builds a chain: `plainCount` plain entries, then (with a key) the marker and `keyedCount` keyed ones. */
function chain(plainCount: number, keyedCount = 0): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (let i = 0; i < plainCount; i++) out.push(linkEntry(out.at(-1), input(i), at, plain.plain));
  if (keyedCount > 0 || plainCount === 0) {
    out.push(linkEntry(out.at(-1), keyedMarker(keyed.keyed!.keyId), at, keyed.keyed!.hash));
    for (let i = 0; i < keyedCount; i++) out.push(linkEntry(out.at(-1), input(100 + i), at, keyed.keyed!.hash));
  }
  return out;
}

function walk(entries: AuditEvent[], hashers = keyed, expected = new Map<number, string>()): { state: ChainState } | { broken: VerifyBreak } {
  let state = initialChainState;
  for (const entry of entries) {
    const step = advanceChain(state, entry, hashers, expected);
    if ('broken' in step) return step;
    state = step.state;
  }
  const broken = finishChain(state, hashers, expected);
  return broken ? { broken } : { state };
}

describe('audit chain core', () => {
  it('a key holder marks a plain head before appending, and extends a keyed head directly', () => {
    expect(decideAppend(undefined, keyed)).toEqual({ kind: 'mark_then_append' });
    expect(decideAppend(chain(2).at(-1), keyed)).toEqual({ kind: 'mark_then_append' });
    expect(decideAppend(chain(2, 1).at(-1), keyed)).toEqual({ kind: 'append', mode: 'keyed' });
    expect(decideAppend(undefined, plain)).toEqual({ kind: 'append', mode: 'plain' });
    expect(decideAppend(chain(2).at(-1), plain)).toEqual({ kind: 'append', mode: 'plain' });
  });

  it('refuses to extend a head it cannot authenticate: keyed without the key, another key, an altered head', () => {
    const keyedHead = chain(1, 1).at(-1)!;
    expect(decideAppend(keyedHead, plain)).toMatchObject({ kind: 'refuse', reason: expect.stringMatching(/HMAC-keyed, so set QUENCH_AUDIT_KEY/) });
    expect(decideAppend(keyedHead, otherKey)).toMatchObject({ kind: 'refuse', reason: expect.stringMatching(/matches neither QUENCH_AUDIT_KEY/) });
    const altered = { ...chain(2).at(-1)!, data: { i: 99 } };
    expect(decideAppend(altered, plain)).toMatchObject({ kind: 'refuse' });
  });

  it('a writer that saw a keyed head refuses a head rewritten as plain SHA-256, or cut back, instead of keying it afresh', () => {
    const forged = chain(6).at(-1)!; // the whole trail relinked with plain SHA-256, marker and all
    // Without a memory of the chain (a process just started) the forgery looks like a plain trail to key.
    expect(decideAppend(forged, keyed)).toEqual({ kind: 'mark_then_append' });
    expect(decideAppend(forged, keyed, { seq: 5, keyed: true })).toMatchObject({
      kind: 'refuse',
      reason: expect.stringMatching(/HMAC-keyed up to entry 5 .* entry 6 is a plain SHA-256 link: the trail was rewritten without the key/),
    });
    expect(decideAppend(undefined, keyed, { seq: 5, keyed: true })).toMatchObject({ kind: 'refuse', reason: expect.stringMatching(/is empty, but this process saw entry 5/) });
    // Cut from the end: the head is older than one this writer saw, keyed or not.
    expect(decideAppend(chain(1, 2).at(-1), keyed, { seq: 5, keyed: true })).toMatchObject({
      kind: 'refuse',
      reason: expect.stringMatching(/newest audit entry is 4, but this process saw entry 5: entries were cut from the end/),
    });
    expect(decideAppend(chain(3).at(-1), plain, { seq: 4, keyed: false })).toMatchObject({ kind: 'refuse', reason: expect.stringMatching(/cut from the end/) });
    // What it saw and what follows it are fine; so is a plain head it saw as plain (entries recorded before the key).
    expect(decideAppend(chain(1, 2).at(-1), keyed, { seq: 4, keyed: true })).toEqual({ kind: 'append', mode: 'keyed' });
    expect(decideAppend(chain(1, 2).at(-1), keyed, { seq: 2, keyed: true })).toEqual({ kind: 'append', mode: 'keyed' });
    expect(decideAppend(chain(3).at(-1), keyed, { seq: 3, keyed: false })).toEqual({ kind: 'mark_then_append' });
    expect(linkBatch(forged, [{ input: input(9), at, authentic: true }], keyed, { seq: 6, keyed: true })).toMatchObject({
      entries: [],
      refused: expect.stringMatching(/rewritten without the key/),
    });
  });

  it('verifies a chain that turns keyed at the marker, and says where', () => {
    const entries = chain(3, 2);
    const result = walk(entries);
    expect(result).toEqual({ state: { previous: { seq: 6, hash: entries[5]!.hash }, mode: 'keyed', keyedSince: 4, count: 6 } });
  });

  it('needs the key, and the same key, for the keyed part', () => {
    expect(walk(chain(3, 2), plain)).toEqual({ broken: { kind: 'key_required', seq: 4, keyId: keyed.keyed!.keyId } });
    expect(walk(chain(3, 2), otherKey)).toEqual({
      broken: { kind: 'key_mismatch', seq: 4, keyId: keyed.keyed!.keyId, givenKeyId: otherKey.keyed!.keyId },
    });
  });

  it('names an entry after the marker that was relinked with plain SHA-256', () => {
    const entries = chain(2, 3);
    // Rewrite entry 5 and everything after it as plain SHA-256 links, as someone without the key would.
    const forged = entries.slice(0, 4);
    forged.push(linkEntry(forged.at(-1), { ...input(5), data: { forged: true } }, at, plain.plain));
    forged.push(linkEntry(forged.at(-1), input(6), at, plain.plain));
    expect(walk(forged)).toEqual({ broken: { kind: 'unkeyed_entry', seq: 5, keyedSince: 3 } });
  });

  it('with a key, a chain that was never keyed (or had its marker rewritten away) fails', () => {
    expect(walk(chain(3))).toEqual({ broken: { kind: 'not_keyed', seq: 3 } });
    expect(walk([])).toEqual({ state: initialChainState });
    expect(walk(chain(3), plain)).toMatchObject({ state: { count: 3, mode: 'plain' } });
  });

  it('checks recorded heads: the same hash, present, not beyond the end', () => {
    const entries = chain(4);
    expect(walk(entries, plain, new Map([[2, entries[1]!.hash]]))).toMatchObject({ state: { count: 4 } });
    expect(walk(entries, plain, new Map([[2, 'f'.repeat(64)]]))).toEqual({
      broken: { kind: 'expected_head_mismatch', seq: 2, expected: 'f'.repeat(64), actual: entries[1]!.hash },
    });
    expect(walk(entries, plain, new Map([[9, 'f'.repeat(64)]]))).toEqual({ broken: { kind: 'expected_head_missing', seq: 9, lastSeq: 4 } });
  });

  it('parses SEQ:HASH and explains a malformed one', () => {
    const hash = 'AB'.repeat(32);
    expect(parseExpectedHead(` 42:${hash} `)).toEqual({ seq: 42, hash: hash.toLowerCase() });
    for (const bad of ['42', `0:${hash}`, `x:${hash}`, '42:abc', `42:${hash}00`, `-1:${hash}`]) {
      expect(parseExpectedHead(bad)).toEqual({ error: expect.stringMatching(/expected SEQ:HASH/) });
    }
  });

  it('every break has a message that says what happened', () => {
    const breaks: VerifyBreak[] = [
      { kind: 'key_required', seq: 4, keyId: 'abc' },
      { kind: 'key_mismatch', seq: 4, keyId: 'abc', givenKeyId: 'def' },
      { kind: 'unkeyed_entry', seq: 5, keyedSince: 3 },
      { kind: 'not_keyed', seq: 3 },
      { kind: 'expected_head_mismatch', seq: 2, expected: 'a', actual: 'b' },
      { kind: 'expected_head_missing', seq: 9, lastSeq: 4 },
    ];
    expect(breaks.map(describeVerifyBreak)).toEqual([
      expect.stringMatching(/set QUENCH_AUDIT_KEY/),
      expect.stringMatching(/keyed with key id abc, but QUENCH_AUDIT_KEY has key id def/),
      expect.stringMatching(/rewritten without the key/),
      expect.stringMatching(/no entry up to 3 is keyed/),
      expect.stringMatching(/differs from the recorded head a/),
      expect.stringMatching(/ends at entry 4, before the recorded head 9; entries were cut from the end/),
    ]);
  });
});

describe('linkBatch (one chainer batch)', () => {
  const pending = (i: number, authentic: boolean) => ({ input: input(i), at, authentic });
  const verifies = (entries: AuditEvent[], hashers = keyed) => {
    let state: ChainState = initialChainState;
    for (const e of entries) {
      const step = advanceChain(state, e, hashers);
      if ('broken' in step) return step.broken;
      state = step.state;
    }
    return finishChain(state, hashers) ?? state;
  };

  it('links after the head in the given order; each link names its pending entry', () => {
    const head = chain(2).at(-1)!;
    const { entries, refused } = linkBatch(head, [pending(7, false), pending(8, false)], plain);
    expect(refused).toBeUndefined();
    expect(entries.map((e) => [e.entry.seq, e.source])).toEqual([[3, 0], [4, 1]]);
    expect(verifies([...chain(2), ...entries.map((e) => e.entry)], plain)).toMatchObject({ count: 4 });
  });

  it('with a key on a plain chain: entries recorded without a MAC stay plain, then the marker, then the authenticated ones', () => {
    const { entries } = linkBatch(chain(1).at(-1), [pending(1, false), pending(2, true), pending(3, true)], keyed);
    expect(entries.map((e) => [e.entry.action, e.source])).toEqual([['test', 0], ['audit.hmac_enabled', undefined], ['test', 1], ['test', 2]]);
    expect(verifies([...chain(1), ...entries.map((e) => e.entry)])).toMatchObject({ count: 5, keyedSince: 3 });
  });

  it('after the marker an entry without a valid MAC ends the batch before it, with the reason', () => {
    const head = chain(0, 1).at(-1)!;
    const { entries, refused } = linkBatch(head, [pending(1, true), pending(2, false), pending(3, true)], keyed);
    expect(entries.map((e) => e.source)).toEqual([0]);
    expect(refused).toMatch(/does not carry a valid MAC for QUENCH_AUDIT_KEY/);
    expect(linkBatch(head, [pending(2, false)], keyed)).toMatchObject({ entries: [], refused: expect.stringMatching(/valid MAC/) });
  });

  it('refuses a head it cannot authenticate, linking nothing', () => {
    expect(linkBatch(chain(0, 1).at(-1), [pending(1, false)], plain)).toMatchObject({ entries: [], refused: expect.stringMatching(/HMAC-keyed/) });
    expect(linkBatch(chain(0, 1).at(-1), [pending(1, true)], otherKey)).toMatchObject({ entries: [], refused: expect.stringMatching(/matches neither/) });
  });
});
