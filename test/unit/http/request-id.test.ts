import { describe, expect, it } from 'vitest';
import { newRequestId } from '../../../src/http/request-id.js';

describe('newRequestId', () => {
  it('makes version 4 UUIDs in the form crypto.randomUUID writes, all different', () => {
    const ids = Array.from({ length: 1000 }, newRequestId);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('returns strings that later ids do not change (the text buffer is reused)', () => {
    const first = newRequestId();
    const copy = `${first}`;
    for (let i = 0; i < 300; i++) newRequestId();
    expect(first).toBe(copy);
  });
});
