/**
 * The playbook model in one import for the engine, ingest and chat: schemas, inferred types and
 * the small pure helpers that interpret them. Nothing here does IO.
 */
export { type ActionCatalog, type ActionSpec, catalogOf } from './catalog.js';
export { durationMs, durationSchema, formatDuration, MAX_DURATION_MS, parseDuration } from './duration.js';
export { type Assign, assignSchema, type HumanSla, humanSlaSchema, requiredApprovals } from './human-schema.js';
export {
  API_VERSION,
  inputSchema,
  KIND,
  type Playbook,
  type PlaybookInput,
  type PlaybookSource,
  playbookSchema,
} from './playbook-schema.js';
export {
  type ActionCall,
  type ActionStep,
  actionCallSchema,
  type DecideStep,
  END,
  type Fallback,
  type HumanStep,
  type ParallelStep,
  type RetryPolicy,
  STEP_ID_PATTERN,
  type Step,
  type StepKind,
  stepSchema,
  type WaitStep,
} from './steps-schema.js';
export { type TriggerMatcher, triggerMatcherSchema } from './triggers-schema.js';
