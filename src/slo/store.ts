import { and, asc, desc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Database } from '../db/database.js';
import type { AlertState, AlertStatus } from './core/alerts.js';
import type { Severity } from './core/model.js';
import type { CountSegment } from './core/samples.js';
import { sloAlertStates, sloSamples } from './schema.js';

export interface SampleInput {
  slo: string;
  /** The evaluation's time, the end of the window. */
  at: Date;
  /** The window the counts cover is (windowStart, at]. */
  windowStart: Date;
  resolutionS: number;
  errors: number;
  total: number;
  budgetRemaining: number | null;
  burnRate: number | null;
}

/** Down-sampling tiers: rows finer than `resolutionS` older than `afterMs` merge into `resolutionS` buckets. */
export const downsampleTiers = [
  { resolutionS: 3600, afterMs: 8 * 86_400_000 },
  { resolutionS: 86_400, afterMs: 400 * 86_400_000 },
] as const;

export interface SloStore {
  saveSamples(samples: SampleInput[]): Promise<void>;
  lastSampleAt(slo: string): Promise<Date | undefined>;
  /** Samples whose `at` is in [from, to), oldest first: what reports draw budget over time from. */
  history(slo: string, from: Date, to: Date): Promise<SampleInput[]>;
  /** Σerrors/Σtotal of the samples whose `at` is in [from, to); null without traffic. */
  attainment(slo: string, from: Date, to: Date): Promise<{ errors: number; total: number; attainment: number | null }>;
  /**
   * The rows with `at` after `from` as segments, oldest first: one per hour when that hour's rows
   * are adjacent (their windows tile it without gap or overlap), else the hour's rows one by one,
   * so gaps (restarts) and overlaps stay visible to core/samples.ts sumSegments.
   */
  countSegments(slo: string, from: Date): Promise<CountSegment[]>;
  loadAlertStates(): Promise<Map<string, Record<Severity, AlertState>>>;
  saveAlertState(slo: string, severity: Severity, state: AlertState): Promise<void>;
  /** Merges old rows into coarser ones; returns how many rows were merged away. */
  downsample(now: Date): Promise<number>;
}

export function createSloStore(db: Database): SloStore {
  return {
    async saveSamples(samples) {
      if (samples.length === 0) return;
      // One multi-row insert per cycle; a repeat of the same instant (two replicas) is harmless.
      await db.orm.insert(sloSamples).values(samples).onConflictDoNothing();
    },

    async lastSampleAt(slo) {
      const [row] = await db.orm
        .select({ at: sloSamples.at })
        .from(sloSamples)
        .where(eq(sloSamples.slo, slo))
        .orderBy(desc(sloSamples.at))
        .limit(1);
      return row?.at;
    },

    async history(slo, from, to) {
      return db.orm
        .select()
        .from(sloSamples)
        .where(and(eq(sloSamples.slo, slo), gte(sloSamples.at, from), lt(sloSamples.at, to)))
        .orderBy(asc(sloSamples.at));
    },

    async attainment(slo, from, to) {
      const [row] = await db.orm
        .select({ errors: sql<number>`coalesce(sum(${sloSamples.errors}), 0)`, total: sql<number>`coalesce(sum(${sloSamples.total}), 0)` })
        .from(sloSamples)
        .where(and(eq(sloSamples.slo, slo), gte(sloSamples.at, from), lt(sloSamples.at, to)));
      const errors = Number(row?.errors ?? 0);
      const total = Number(row?.total ?? 0);
      return { errors, total, attainment: total > 0 ? 1 - Math.min(1, errors / total) : null };
    },

    async countSegments(slo, from) {
      const hours = await db.rows<{ h: number; ws: Date | string; at: Date | string; errors: number; total: number; covered: number; n: number }>(sql`
        select floor(extract(epoch from at) / 3600)::bigint as h, min(window_start) as ws, max(at) as at,
               sum(errors) as errors, sum(total) as total,
               sum(extract(epoch from at - window_start) * 1000) as covered, count(*)::int as n
        from slo_samples where slo = ${slo} and at > ${from.toISOString()}::timestamptz
        group by 1 order by 1`);
      const out: CountSegment[] = [];
      for (const h of hours) {
        const startMs = new Date(h.ws).getTime();
        const endMs = new Date(h.at).getTime();
        // Tiled exactly (1 ms of rounding per row allowed): one segment for the hour.
        if (Math.abs(Number(h.covered) - (endMs - startMs)) <= Number(h.n)) {
          out.push({ startMs, endMs, errors: Number(h.errors), total: Number(h.total) });
          continue;
        }
        const hourMs = Number(h.h) * 3_600_000;
        const rows = await db.orm
          .select()
          .from(sloSamples)
          .where(and(eq(sloSamples.slo, slo), gte(sloSamples.at, new Date(Math.max(hourMs, from.getTime() + 1))), lt(sloSamples.at, new Date(hourMs + 3_600_000))))
          .orderBy(asc(sloSamples.windowStart), asc(sloSamples.at));
        for (const r of rows) out.push({ startMs: r.windowStart.getTime(), endMs: r.at.getTime(), errors: r.errors, total: r.total });
      }
      return out.sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs);
    },

    async loadAlertStates() {
      const rows = await db.orm.select().from(sloAlertStates);
      const out = new Map<string, Record<Severity, AlertState>>();
      for (const row of rows) {
        const entry = out.get(row.slo) ?? {
          page: { status: 'inactive', sinceMs: 0 },
          ticket: { status: 'inactive', sinceMs: 0 },
        };
        entry[row.severity as Severity] = { status: row.status as AlertStatus, sinceMs: row.since.getTime() };
        out.set(row.slo, entry);
      }
      return out;
    },

    async saveAlertState(slo, severity, state) {
      await db.orm
        .insert(sloAlertStates)
        .values({ slo, severity, status: state.status, since: new Date(state.sinceMs) })
        .onConflictDoUpdate({
          target: [sloAlertStates.slo, sloAlertStates.severity],
          set: { status: state.status, since: new Date(state.sinceMs) },
        });
    },

    async downsample(now) {
      let merged = 0;
      for (const tier of downsampleTiers) {
        // Whole buckets only (the cutoff is bucket-aligned), so no bucket is ever merged twice.
        const cutoffMs = Math.floor((now.getTime() - tier.afterMs) / (tier.resolutionS * 1000)) * tier.resolutionS * 1000;
        const cutoff = new Date(cutoffMs).toISOString();
        const bucket = sql`to_timestamp(floor(extract(epoch from at) / ${tier.resolutionS}) * ${tier.resolutionS})`;
        // A bucket's rows (by their `at`) become one row over their union of windows: counts
        // summed, the latest `at` and budget, the earliest window_start, the highest burn rate.
        const rows = await db.rows<{ n: number }>(sql`
          with moved as (
            delete from slo_samples where resolution_s < ${tier.resolutionS} and at < ${cutoff}::timestamptz returning *
          ), merged as (
            insert into slo_samples (slo, at, window_start, resolution_s, errors, total, budget_remaining, burn_rate)
            select slo, max(at), min(window_start), ${tier.resolutionS}, sum(errors), sum(total),
                   (array_agg(budget_remaining order by at desc))[1], max(burn_rate)
            from moved group by slo, ${bucket}
            on conflict (slo, resolution_s, at) do update set
              window_start = least(slo_samples.window_start, excluded.window_start),
              errors = slo_samples.errors + excluded.errors,
              total = slo_samples.total + excluded.total,
              burn_rate = greatest(slo_samples.burn_rate, excluded.burn_rate)
          )
          select count(*)::int as n from moved`);
        merged += Number(rows[0]?.n ?? 0);
      }
      return merged;
    },
  };
}
