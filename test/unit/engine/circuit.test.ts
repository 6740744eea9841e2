import { describe, expect, it } from 'vitest';
import { abandonProbe, admit, type BreakerState, closedBreaker, record } from '../../../src/engine/core/circuit.js';

const options = { failureThreshold: 3, openMs: 10_000 };

describe('circuit breaker', () => {
  it('opens after consecutive failures, not after scattered ones', () => {
    let b: BreakerState = closedBreaker;
    b = record(b, false, 0, options);
    b = record(b, false, 0, options);
    b = record(b, true, 0, options);
    b = record(b, false, 0, options);
    b = record(b, false, 0, options);
    expect(b).toEqual({ state: 'closed', failures: 2 });
    b = record(b, false, 1_000, options);
    expect(b).toEqual({ state: 'open', until: 11_000 });
  });

  it('refuses calls while open and says when to come back', () => {
    const open: BreakerState = { state: 'open', until: 11_000 };
    expect(admit(open, 10_999, options)).toEqual({ allowed: false, next: open, retryAtMs: 11_000 });
  });

  it('half-opens with exactly one probe', () => {
    const open: BreakerState = { state: 'open', until: 11_000 };
    const probe = admit(open, 11_000, options);
    expect(probe).toEqual({ allowed: true, probe: true, next: { state: 'half_open', probeInFlight: true, probeUntil: 21_000 } });
    const second = admit(probe.next, 11_001, options);
    expect(second.allowed).toBe(false);
  });

  it('closes on a successful probe and reopens on a failed one', () => {
    const half: BreakerState = { state: 'half_open', probeInFlight: true };
    expect(record(half, true, 12_000, options)).toEqual(closedBreaker);
    expect(record(half, false, 12_000, options)).toEqual({ state: 'open', until: 22_000 });
  });

  it('a probe that never reports does not block the target for ever', () => {
    const probe = admit({ state: 'open', until: 11_000 }, 11_000, options);
    expect(admit(probe.next, 20_999, options).allowed).toBe(false);
    // Unanswered past its window (its worker lost the lease or died): another call probes.
    expect(admit(probe.next, 21_000, options)).toMatchObject({ allowed: true, probe: true });
    // An attempt that ends without an outcome hands the probe back at once.
    expect(admit(abandonProbe(probe.next), 11_001, options)).toMatchObject({ allowed: true, probe: true });
  });
});
