import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AFTER_APPEND_MS, CHAIN_PACE_MS, type ChainLoop, createChainLoop, type PassHint } from '../../../src/audit/chain-loop.js';

/**
 * When the chain loop runs passes (src/audit/chain-loop.ts), on fake timers. Each pass answers
 * the next scripted result (then 0) and records when it started and what it was told.
 */
const BATCH = 500;

function scripted(results: Array<number | 'busy'>) {
  const passes: Array<{ at: number; hint: PassHint }> = [];
  const loop = createChainLoop({
    pass: async (hint) => {
      passes.push({ at: Date.now(), hint });
      return results.shift() ?? 0;
    },
    batch: BATCH,
  });
  return { loop, passes };
}

describe('chain loop pacing', () => {
  let loop: ChainLoop | undefined;
  let t0: number;
  beforeEach(() => {
    vi.useFakeTimers();
    t0 = Date.now();
  });
  afterEach(async () => {
    await loop?.stop();
    vi.useRealTimers();
  });

  it('while passes keep linking entries, the next starts CHAIN_PACE_MS after the last one started, without the probe', async () => {
    const s = scripted([3, 4, 2]);
    loop = s.loop;
    loop.start({ onError: () => {} });
    await vi.advanceTimersByTimeAsync(0);
    expect(s.passes).toHaveLength(1);
    // Appends keep coming; they do not bring the next pass forward.
    loop.appended();
    await vi.advanceTimersByTimeAsync(CHAIN_PACE_MS - 1);
    loop.appended();
    expect(s.passes).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.passes).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(CHAIN_PACE_MS);
    expect(s.passes).toHaveLength(3);
    expect(s.passes.map((p) => p.at - t0)).toEqual([0, CHAIN_PACE_MS, 2 * CHAIN_PACE_MS]);
    // The first pass (after nothing was linked) may look first; the paced ones go straight in.
    expect(s.passes.map((p) => p.hint.probe)).toEqual([true, false, false]);
    // The third linked entries too: the fourth is paced, links nothing, and the retries follow.
    await vi.advanceTimersByTimeAsync(CHAIN_PACE_MS + AFTER_APPEND_MS[1]);
    expect(s.passes.map((p) => p.at - t0).slice(3)).toEqual([3 * CHAIN_PACE_MS, 3 * CHAIN_PACE_MS + AFTER_APPEND_MS[1]]);
    expect(s.passes.slice(3).map((p) => p.hint.probe)).toEqual([false, true]);
  });

  it('a full batch runs the next pass at once; an append after a quiet spell still gets the first retry', async () => {
    const s = scripted([BATCH, 7]);
    loop = s.loop;
    loop.start({ onError: () => {}, pollMs: 1_000 });
    await vi.advanceTimersByTimeAsync(1);
    expect(s.passes.map((p) => p.at - t0)).toEqual([0, 1]); // setTimeout(0) is 1 ms
    // Paced after the 7, then the retry ladder runs out and the loop polls.
    await vi.advanceTimersByTimeAsync(CHAIN_PACE_MS + AFTER_APPEND_MS.slice(1).reduce((a, b) => a + b, 0));
    const settled = s.passes.length;
    await vi.advanceTimersByTimeAsync(500);
    expect(s.passes).toHaveLength(settled);
    loop.appended();
    await vi.advanceTimersByTimeAsync(AFTER_APPEND_MS[0]);
    expect(s.passes).toHaveLength(settled + 1);
    expect(s.passes.at(-1)!.hint.probe).toBe(true);
  });

  it('paceMs can be set at start', async () => {
    const s = scripted([1, 1]);
    loop = s.loop;
    loop.start({ onError: () => {}, paceMs: 20 });
    await vi.advanceTimersByTimeAsync(40);
    expect(s.passes.map((p) => p.at - t0)).toEqual([0, 20, 40]);
  });
});
