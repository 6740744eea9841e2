import { errorRatio } from '../core/budget.js';
import type { Slo } from '../core/model.js';
import { syntheticCounts, syntheticSliceCounts } from '../core/synthetic.js';
import type { SliSource, WindowValue } from './port.js';

/**
 * The synthetic source: exact integrals of the scripted error ratio. `startedAt` anchors
 * scripts with `anchor: start` (the demo's incident a few minutes after start-up). Time-slice
 * SLOs count slices as the Prometheus source does (core/slices.ts): bad slices of all slices.
 */
export function syntheticSource(startedAt: Date): SliSource {
  return {
    name: 'synthetic',
    async read(slo: Slo, windowsMs: readonly number[], now: Date) {
      const out = new Map<number, WindowValue>();
      if (slo.sli.kind !== 'synthetic') return out;
      const script = slo.sli.script;
      const anchorMs = script.anchor === 'start' ? startedAt.getTime() : 0;
      const b = slo.budgeting;
      for (const ms of windowsMs) {
        const [fromMs, toMs] = [now.getTime() - ms, now.getTime()];
        const events = syntheticCounts(script, anchorMs, fromMs, toMs);
        // The low-traffic guard counts requests whatever the budgeting method counts.
        const counts = b.method === 'occurrences' ? events : syntheticSliceCounts(script, anchorMs, fromMs, toMs, b);
        out.set(ms, { ratio: errorRatio(counts), counts, requests: events.total });
      }
      return out;
    },
  };
}
