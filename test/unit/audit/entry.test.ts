import { describe, expect, it } from 'vitest';
import { type AuditEvent, canonicalJson, hashedFields, pendingFields } from '../../../src/audit/core/entry.js';

/**
 * The canonical form is what every stored hash and MAC covers (and every playbook hash): the
 * faster writers in core/entry.ts must give the very text the first version gave.
 */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) return `[${value.map((v) => reference(v === undefined ? null : v)).join(',')}]`;
  const keys = Object.keys(value as object)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${reference((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** A small deterministic generator (no seed dependency on Math.random). */
function generator(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const keys = ['a', 'b', 'Z', '10', '2', 'é', '"q"', 'back\\slash', 'nl\n', '__proto__', 'ключ', '😀', '', 'seq', 'at'];
  const scalars: unknown[] = [null, true, false, 0, -0, 1.5, -3, 1e21, 1e-7, NaN, Infinity, 'text', '', 'é"\\\n\u0000\ud800', undefined, () => 1];
  const value = (depth: number): unknown => {
    const r = next();
    if (depth > 3 || r < 0.5) return pick(scalars);
    if (r < 0.7) {
      const arr: unknown[] = Array.from({ length: Math.floor(next() * 4) }, () => value(depth + 1));
      if (next() < 0.2) arr[arr.length + 1] = 'after a hole';
      return arr;
    }
    const obj: Record<string, unknown> = {};
    for (let i = Math.floor(next() * 5); i > 0; i--) Object.defineProperty(obj, pick(keys), { value: value(depth + 1), enumerable: true, configurable: true, writable: true });
    return obj;
  };
  return { value, next, pick };
}

describe('canonical form', () => {
  it('canonicalJson writes what the first version wrote, for any value', () => {
    const g = generator(7);
    for (let i = 0; i < 5_000; i++) {
      const v = g.value(0);
      expect(canonicalJson(v)).toBe(reference(v));
    }
  });

  it('hashedFields and pendingFields are canonicalJson of the fields they cover', () => {
    const g = generator(11);
    for (let i = 0; i < 2_000; i++) {
      const data = g.value(1) as Record<string, unknown>;
      const entry: Omit<AuditEvent, 'hash'> = {
        seq: Math.floor(g.next() * 1e6),
        at: new Date(Math.floor(g.next() * 2e12)),
        actor: g.next() < 0.5 ? { type: 'system', id: 'engine' } : ({ id: 'u"1', type: 'user', extra: g.value(2) } as unknown as AuditEvent['actor']),
        action: g.pick(['run.started', 'é', '']),
        subject: { type: 'run', id: String(g.next()) },
        data: data as AuditEvent['data'],
        correlationId: g.next() < 0.5 ? null : 'c',
        prevHash: '0'.repeat(64),
      };
      expect(hashedFields(entry)).toBe(
        reference({
          seq: entry.seq,
          at: entry.at.toISOString(),
          actor: entry.actor,
          action: entry.action,
          subject: entry.subject,
          data: entry.data,
          correlationId: entry.correlationId,
          prevHash: entry.prevHash,
        }),
      );
      const pending = { id: entry.seq, at: entry.at, actor: entry.actor, action: entry.action, subject: entry.subject, data, correlationId: entry.correlationId };
      expect(pendingFields(pending)).toBe(reference({ outbox: 'quench audit outbox entry', ...pending, at: pending.at.toISOString() }));
    }
  });
});
