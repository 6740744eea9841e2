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
        const total = raw.get(`${range}:total`);
        if (total === undefined || !Number.isFinite(total)) {
          out.set(ms, { ratio: null });
          continue;
        }
        // A missing errors series (no 5xx yet) with traffic present means no errors.
        const errorsRaw = raw.get(`${range}:errors`) ?? 0;
        const scale = perSecond ? Math.round(ms / 1000) : 1;
        const counts = { errors: Number.isFinite(errorsRaw) ? errorsRaw * scale : 0, total: total * scale };
        out.set(ms, { ratio: errorRatio(counts), counts });
      }
      return out;
    },
  };
}
