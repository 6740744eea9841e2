import { afterAll, expect } from 'vitest';

/**
 * Runs a case under several TZ values (Node re-reads process.env.TZ on assignment), to prove
 * that a parser or renderer does not read times in the machine's own zone. Restores TZ after
 * the file's tests.
 */
const ZONES = ['UTC', 'America/Los_Angeles', 'Asia/Kolkata', 'Pacific/Kiritimati'];

export function zoneSwitching(): (fn: (zone: string) => void) => void {
  const savedTz = process.env.TZ;
  afterAll(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });
  return (fn) => {
    for (const zone of ZONES) {
      process.env.TZ = zone;
      // The zone really is in effect: local midnight of 1 Jan 2026 is not UTC midnight outside UTC.
      expect(new Date(2026, 0, 1).getTime() === Date.UTC(2026, 0, 1), zone).toBe(zone === 'UTC');
      fn(zone);
    }
  };
}
