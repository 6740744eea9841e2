import { z } from 'zod';
import { triggerSeverity } from '../../triggers/event.js';
import { durationSchema } from './duration.js';
import { patternProblem } from './patterns.js';

/**
 * `triggers`: which events start a playbook. Routing (src/ingest) matches every trigger of
 * every playbook against a `TriggerEvent`; all conditions of one matcher must hold. The most
 * specific matching trigger wins (see `specificity` in src/ingest/core/route.ts), `priority`
 * breaks ties.
 */

const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)]);

/** An RE2 regular expression, anchored like Prometheus label matchers; checked when the playbook loads. */
const regexSchema = z
  .string()
  .min(1)
  .superRefine((source, ctx) => {
    const problem = patternProblem(source);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * The sources an event can have (src/triggers/event.ts): the webhook normalisers in
 * src/ingest/core give `alertmanager`, `pagerduty` and `generic:<name>` (the name as the
 * webhook route accepts it, src/ingest/routes.ts), SLO burn alerts `slo` (src/slo/events.ts),
 * and person-started runs `drill` and `manual` (src/runs/start.ts). Any other value could
 * never match, so it is refused instead of silently never starting the playbook.
 */
export const TRIGGER_SOURCES = ['alertmanager', 'pagerduty', 'slo', 'drill', 'manual'] as const;
const GENERIC_SOURCE = /^generic:[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Why `source` is not a source an event can have, or undefined when it is one. */
export function triggerSourceProblem(source: string): string | undefined {
  if ((TRIGGER_SOURCES as readonly string[]).includes(source) || GENERIC_SOURCE.test(source)) return undefined;
  const accepted = `${TRIGGER_SOURCES.slice(0, 2).join(', ')}, generic:<name>, ${TRIGGER_SOURCES.slice(2).join(', ')}`;
  const hint = source.startsWith('generic:')
    ? ` (a generic source name is 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit, as in POST /webhooks/generic/<name>)`
    : (TRIGGER_SOURCES as readonly string[]).includes(source.toLowerCase())
      ? ` (sources are lower case: '${source.toLowerCase()}')`
      : '';
  return `unknown trigger source '${source}': an event's source is one of ${accepted}${hint}`;
}

const sourceSchema = z.string().min(1).superRefine((source, ctx) => {
  const problem = source === '' ? undefined : triggerSourceProblem(source); // '' has min(1)'s message
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * Any non-empty label name: Alertmanager 0.27+ and Prometheus 3 carry UTF-8 names
 * (OpenTelemetry's `service.name`), and generic events any string (`app.kubernetes.io/name`);
 * the classic [A-Za-z_][A-Za-z0-9_]* would leave a playbook unable to match what they send.
 */
const labelName = z.string().min(1, 'expected a label name (not empty)').max(1024);

export const triggerMatcherSchema = z
  .strictObject({
    /** `alertmanager`, `pagerduty`, `generic:<source>`, `slo`, `drill`, `manual`; one or several. */
    source: oneOrMany(sourceSchema).optional(),
    /** Event type such as `alert.firing`, `incident.triggered`, `slo.burn`; one or several. */
    type: oneOrMany(z.string().min(1)).optional(),
    severity: oneOrMany(triggerSeverity).optional(),
    /** Every listed label must be present with exactly this value. */
    labels: z.record(labelName, z.string()).optional(),
    /** Every listed label must be present and fully match the regular expression. */
    labelsMatch: z.record(labelName, regexSchema).optional(),
    /** For `slo.burn` / `slo.recovered` events: the SLO name and the alert severity. */
    slo: z
      .strictObject({
        name: z.string().min(1).optional(),
        severity: z.enum(['page', 'ticket']).optional(),
      })
      .optional(),
    /** Breaks ties between equally specific matches across playbooks; higher wins. */
    priority: z.int().min(-1000).max(1000).default(0),
    /** Storm control: events with equal values of these labels within `window` join one run. Default: the source's group key. */
    groupBy: z.array(labelName).min(1).optional(),
    /** Storm-control window: how long after a run starts further matching events join it instead of starting another. */
    window: durationSchema.default('5m'),
  })
  .meta({ description: 'A trigger matcher: every condition given must hold for an event to match.' });

export type TriggerMatcher = z.infer<typeof triggerMatcherSchema>;
