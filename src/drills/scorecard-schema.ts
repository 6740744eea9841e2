import { z } from 'zod';
import { isoTime, jsonBodyOf } from '../http/json-body.js';
import type { Scorecard } from './core/scorecard.js';

/** A finished drill's scorecard as `GET /v1/runs/:id/scorecard` answers it (core/scorecard.ts Scorecard). */
export const scorecardSchema = jsonBodyOf<Scorecard>()(
  z.object({
    runId: z.string(),
    playbook: z.string(),
    finalState: z.string().describe("The run's final state"),
    startedAt: isoTime(),
    endedAt: isoTime().nullable(),
    timeToFirstAckMs: z.number().nullable().describe('From the start to the first acknowledgement; null: nobody acknowledged'),
    steps: z.array(
      z.object({
        key: z.string(),
        kind: z.string(),
        status: z.string(),
        durationMs: z.number().nullable(),
        slaMs: z.number().nullable().describe("A human step's sla.within, an action's timeout; null when the playbook sets none"),
        breached: z.boolean().describe('Took longer than slaMs'),
        simulated: z.boolean().describe('Not drillSafe: simulated with its rendered parameters'),
        injected: z.boolean().describe('Failed on purpose (fail=)'),
        attempts: z.number().int().describe('More than one: its retries were exercised'),
      }),
    ),
    failuresInjected: z.array(z.string()),
    retried: z.array(z.string()).describe('Steps whose retries ran'),
    fallbacks: z.array(z.string()).describe('Steps whose fallback ran'),
    escalations: z.array(z.string()),
    compensations: z.array(z.object({ step: z.string(), status: z.string(), succeeded: z.boolean() })),
    gaps: z.array(z.object({ kind: z.enum(['no_owner', 'no_compensation', 'sla_breached']), step: z.string(), message: z.string() })).describe('What the drill found missing'),
  }),
);
