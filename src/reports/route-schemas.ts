import { z } from 'zod';
import { isoTime, jsonBodyOf } from '../http/json-body.js';
import type { Report } from './core/model.js';

/**
 * The report as `GET /v1/reports` (format=json) and `POST /v1/reports/post` answer it: the
 * model of core/model.ts, checked against its type (`jsonBodyOf`). A finished period's report is
 * served as stored (jsonb), never recomputed: a field added to the model later is absent from
 * the reports stored before, so it must be optional here and in the type.
 */
const count = () => z.number().int().min(0);
const spread = z
  .object({
    count: count(),
    median: z.number().nullable().describe('Seconds; null without samples'),
    p90: z.number().nullable().describe('Seconds, nearest rank; null without samples'),
  })
  .describe('Order statistics of durations in the period');

const sloReport = z.object({
  slo: z.string(),
  service: z.string(),
  objective: z.number().describe('The target ratio, e.g. 0.999'),
  window: z.string().describe('`30d`, or a calendar window (`calendar month (UTC)`)'),
  attainment: z.number().nullable().describe('1 − errors/total over the period; null without traffic'),
  windowAttainment: z.number().nullable().describe("The same over the SLO's own window ending at the period end"),
  met: z.boolean().nullable(),
  windowMet: z.boolean().nullable(),
  budgetAtStart: z.number().nullable().describe('Error budget remaining (ratio) at the last evaluation at or before the start'),
  budgetAtEnd: z.number().nullable(),
  burnDown: z
    .array(z.object({ at: isoTime(), budgetRemaining: z.number().nullable(), burnRate: z.number().nullable() }))
    .describe('Budget remaining and fastest burn rate at each stored evaluation in the period'),
  alertsFired: z.record(z.string(), count()).describe('Severity → alerts fired'),
  freezes: z.object({ count: count(), totalSeconds: z.number().min(0) }).describe('Deploy freezes overlapping the period, and for how long'),
  overridesGranted: count(),
});

export const reportSchema = jsonBodyOf<Report>()(
  z.object({
    period: z.object({ from: isoTime(), to: isoTime() }).describe('What happened after from, up to and including to'),
    generatedAt: isoTime(),
    slos: z.array(sloReport),
    response: z.object({
      runsStarted: z.record(z.string(), count()).describe('Playbook → real runs started (drills apart)'),
      timeToAcknowledge: spread,
      timeToResolve: spread,
      humanQueueTime: spread.describe('From a human step queued to offered to a person'),
      humanDecisionTime: spread.describe('From offered to decided'),
      slaBreaches: count(),
      escalations: count(),
      reassignments: count(),
      firstPassYield: z.object({ finished: count(), firstPass: count(), ratio: z.number().nullable() }).describe('Runs that succeeded with no step failed for good, no fallback, no compensation'),
      deadLetteredSteps: count(),
      autoApprovals: z.object({ total: count(), sampledForReview: count() }),
      drills: z
        .object({
          run: count(),
          byFinalState: z.record(z.string(), count()),
          gapsFound: count(),
          runs: z.array(z.object({ runId: z.string(), playbook: z.string(), finalState: z.string(), gaps: count() })),
        })
        .optional()
        .describe('Absent when drills are not stored'),
    }),
  }),
);
