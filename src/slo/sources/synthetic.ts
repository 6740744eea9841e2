import { errorRatio } from '../core/budget.js';
import type { Slo } from '../core/model.js';
import { syntheticCounts } from '../core/synthetic.js';
import type { SliSource, WindowValue } from './port.js';

/**
 * The synthetic source: exact integrals of the scripted error ratio. `startedAt` anchors
 * scripts with `anchor: start` (the demo's incident a few minutes after start-up).
 */
export function syntheticSource(startedAt: Date): SliSource {
  return {
    name: 'synthetic',
    async read(slo: Slo, windowsMs: readonly number[], now: Date) {
      const out = new Map<number, WindowValue>();
      if (slo.sli.kind !== 'synthetic') return out;
      const script = slo.sli.script;
      const anchorMs = script.anchor === 'start' ? startedAt.getTime() : 0;
      for (const ms of windowsMs) {
        const counts = syntheticCounts(script, anchorMs, now.getTime() - ms, now.getTime());
        out.set(ms, { ratio: errorRatio(counts), counts, requests: counts.total });
      }
      return out;
    },
  };
}
