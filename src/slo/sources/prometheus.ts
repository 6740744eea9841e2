import { errorRatio } from '../core/budget.js';
import type { Slo } from '../core/model.js';
import { combinedQuery, promRange, windowExpressions } from '../core/promql.js';
import type { PrometheusClient } from './prometheus-client.js';
import type { SliSource, WindowValue } from './port.js';

/**
 * SLIs from Prometheus: one instant query per SLO per evaluation (every window's errors and
 * totals tagged with a `quench` label), so 1,000 SLOs cost 1,000 round trips, not 16,000.
 */
export function prometheusSource(client: PrometheusClient): SliSource {
  return {
    name: 'prometheus',
    async read(slo: Slo, windowsMs: readonly number[], now: Date, signal?: AbortSignal) {
      const byRange = new Map(windowsMs.map((ms) => [promRange(ms), ms]));
      const windows = [...byRange.values()];
      const raw = new Map<string, number>();
      for (const s of await client.query(combinedQuery(slo.sli, slo.budgeting, windows), now, signal)) {
        const tag = s.labels.quench;
        if (tag) raw.set(tag, s.value);
      }
      const out = new Map<number, WindowValue>();
      for (const ms of windowsMs) {
        const range = promRange(ms);
        const { perSecond, parts } = windowExpressions(slo.sli, slo.budgeting, ms);
        if (parts.ratio !== undefined) {
          const r = raw.get(`${range}:ratio`);
          out.set(ms, { ratio: r === undefined || !Number.isFinite(r) ? null : Math.min(1, Math.max(0, r)) });
          continue;
        }
        const value = (part: string) => {
          const v = raw.get(`${range}:${part}`);
          return v === undefined || !Number.isFinite(v) ? undefined : v;
        };
        const scale = perSecond ? Math.round(ms / 1000) : 1;
        const sliced = parts.slices !== undefined;
        const total = value('total');
        // Time slices: no slice with data is no data; occurrences: no events is no data.
        if (total === undefined || (sliced && !((value('slices') ?? 0) > 0))) {
          out.set(ms, { ratio: null });
          continue;
        }
        // A missing errors part with data present means no errors (the queries already say so; this is the backstop).
        const errors = value('errors') ?? 0;
        const counts = sliced ? { errors, total } : { errors: errors * scale, total: total * scale };
        // Only request-based SLIs have a volume to guard on; a threshold SLI's samples are not requests.
        const requests =
          slo.sli.kind !== 'events' ? undefined : parts.requests !== undefined ? (value('requests') ?? 0) * scale : counts.total;
        out.set(ms, { ratio: errorRatio(counts), counts, ...(requests !== undefined ? { requests } : {}) });
      }
      return out;
    },
  };
}
