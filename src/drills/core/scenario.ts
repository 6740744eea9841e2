import { z } from 'zod';
import { parseDurationText } from '../../core/duration.js';
import type { Slo, SyntheticScript } from '../../slo/core/model.js';

/**
 * A drill scenario (`kind: DrillScenario`, files in QUENCH_DRILL_DIR; docs/drills.md): a script
 * of the synthetic SLI source that replaces one SLO's SLI for the drill, so the SLO engine's own
 * budget maths, burn windows and alert state machine raise a real burn alert, which fires the
 * playbook's trigger as a DRILL run. Offsets are from the drill's start; negative offsets are
 * history (the burn already under way when the drill starts). Pure: no I/O.
 */
const duration = z.string().superRefine((text, ctx) => {
  const r = parseDurationText(text);
  if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message });
});
const offset = z
  .union([z.literal('0'), z.literal(0), z.string().regex(/^-?\S+$/)])
  .transform((v, ctx) => {
    if (v === 0 || v === '0') return 0;
    const negative = v.startsWith('-');
    const r = parseDurationText(negative ? v.slice(1) : v);
    if (!r.ok) {
      ctx.addIssue({ code: 'custom', message: r.message });
      return z.NEVER;
    }
    return negative ? -r.ms : r.ms;
  });

export const drillScenarioSchema = z.strictObject({
  apiVersion: z.literal('quench/v1'),
  kind: z.literal('DrillScenario'),
  metadata: z.strictObject({
    name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'lower-case letters, digits and dashes'),
    description: z.string().optional(),
  }),
  /** The SLO whose burn alert the scenario drives: its objective, windows and alerting are kept, its SLI is the script. */
  slo: z.string().min(1),
  /** The playbook the scenario is written for; absent: any playbook whose trigger the burn matches. */
  playbook: z.string().min(1).optional(),
  synthetic: z.strictObject({
    requestsPerSecond: z.number().positive().default(10),
    script: z.array(z.strictObject({ at: offset, errorRatio: z.number().min(0).max(1) })).min(1),
  }),
  /** Faults injected in the run (`STEP`, `STEP:once`); `fail=` in the request adds to them. */
  fail: z.array(z.string().min(1)).default([]),
  /** Step id → how long its simulated action takes to answer (a delay past the step's timeout exercises it). */
  responseDelays: z.record(z.string(), duration).default({}),
  /** How often the drill's SLO is evaluated while the scenario waits for its alert. */
  evaluateEvery: duration.default('15s'),
  /** The scenario gives up if the alert has not fired by then. */
  expireAfter: duration.default('1h'),
});
export type DrillScenarioFile = z.infer<typeof drillScenarioSchema>;

export interface DrillScenario {
  name: string;
  description: string | undefined;
  slo: string;
  playbook: string | undefined;
  script: SyntheticScript;
  fail: string[];
  delaysMs: Record<string, number>;
  evaluateEveryMs: number;
  expireAfterMs: number;
}

const ms = (text: string) => {
  const r = parseDurationText(text);
  return r.ok ? r.ms : 0;
};

export function toScenario(file: DrillScenarioFile): DrillScenario {
  return {
    name: file.metadata.name,
    description: file.metadata.description,
    slo: file.slo,
    playbook: file.playbook,
    script: {
      requestsPerSecond: file.synthetic.requestsPerSecond,
      phases: file.synthetic.script.map((p) => ({ atMs: p.at, errorRatio: p.errorRatio })).sort((a, b) => a.atMs - b.atMs),
      anchor: 'start',
    },
    fail: file.fail,
    delaysMs: Object.fromEntries(Object.entries(file.responseDelays).map(([k, v]) => [k, ms(v)])),
    evaluateEveryMs: ms(file.evaluateEvery),
    expireAfterMs: ms(file.expireAfter),
  };
}

/**
 * The drill's copy of the SLO: the same objective, window, alerting and labels, the scenario's
 * script as its SLI (anchored at the drill's start). Its statuses live only in the drill's own
 * evaluator: never stored, never published, so they cannot reach the deploy gate.
 */
export function drillSlo(slo: Slo, scenario: DrillScenario): Slo {
  return { ...slo, sli: { kind: 'synthetic', source: 'synthetic', script: scenario.script } };
}
