import { Environment } from '@marcbachmann/cel-js';
import type { ActionCatalog } from './catalog.js';
import { durationMs } from './duration.js';
import { CEL_OPTIONS, compileExpression, ExpressionError, type Reference } from './expressions.js';
import { patternProblem } from './patterns.js';
import type { GraphProblem } from './graph.js';
import { checkActionCall } from './action-checks.js';
import type { Assign, Step } from './model.js';
import type { PlaybookInput } from './playbook-schema.js';
import { checkTemplate, isWholeTemplate, templatesIn } from './templates.js';
import type { LocatedStep } from './walk.js';

/**
 * Rules zod cannot say field by field (exactly-one-of, fields that only make sense for one
 * `type`), every expression and template compiled, and every action checked against the
 * catalog. `known` holds the playbook's step ids, input names and env names, so a misspelt
 * `steps.<id>`, `inputs.<name>` or `env.<NAME>` is found before a run fails on it.
 */
export function checkStep({ step, path }: LocatedStep, catalog: ActionCatalog, known: Known): GraphProblem[] {
  const out: GraphProblem[] = [];
  const at = (...rest: PropertyKey[]) => [...path, ...rest];
  const expr = (source: string, where: PropertyKey[], template: boolean) => {
    out.push(...checkExpression(source, where, template, known));
  };
  // Conditions must yield true or false at run time (evaluateCondition); say so now when they cannot.
  const condition = (source: string, where: PropertyKey[]) => {
    out.push(...checkCondition(source, where, known));
  };

  if (step.when) condition(step.when, at('when'));
  if (step.retry) {
    const { initialDelay, maxDelay } = step.retry;
    if (durationMs(initialDelay) > durationMs(maxDelay))
      out.push({
        path: at('retry', 'maxDelay'),
        message: `retry.maxDelay (${maxDelay}) is shorter than retry.initialDelay (${initialDelay})`,
      });
    if (step.kind !== 'action')
      out.push({ path: at('retry'), message: `retry applies to action steps only; a ${step.kind} step is not retried` });
  }
  if (step.compensate) {
    if (step.kind !== 'action') out.push({ path: at('compensate'), message: 'compensate applies to action steps only' });
    out.push(...checkCall(catalog, step.compensate, at('compensate'), known));
  }
  if (step.fallback) {
    const { action, steps, params } = step.fallback;
    if ((action === undefined) === (steps === undefined))
      out.push({ path: at('fallback'), message: 'fallback needs exactly one of action (with params) or steps' });
    else if (action !== undefined) out.push(...checkCall(catalog, { action, params: params ?? {} }, at('fallback'), known));
    else if (params !== undefined) out.push({ path: at('fallback', 'params'), message: 'fallback.params belongs with fallback.action' });
  }

  switch (step.kind) {
    case 'action':
      out.push(...checkCall(catalog, step, path, known));
      break;
    case 'human':
      out.push(...checkHuman(step, path));
      for (const field of ['prompt', 'description'] as const) {
        const text = step[field];
        if (text !== undefined) expr(text, at(field), true);
      }
      if (typeof step.confidence === 'string') {
        if (isWholeTemplate(step.confidence)) expr(step.confidence, at('confidence'), true);
        else out.push({ path: at('confidence'), message: `confidence is a number from 0 to 1, or a template (\${{ expr }}) yielding one` });
      }
      if (step.impact !== undefined && !['low', 'medium', 'high'].includes(step.impact)) {
        if (isWholeTemplate(step.impact)) expr(step.impact, at('impact'), true);
        else out.push({ path: at('impact'), message: `impact is low, medium or high, or a template (\${{ expr }}) yielding one` });
      }
      break;
    case 'decide':
      step.branches.forEach((b, i) => {
        condition(b.when, at('branches', i, 'when'));
      });
      if (step.next !== undefined)
        out.push({ path: at('next'), message: 'a decide step jumps through its branches and default, not next' });
      break;
    case 'wait':
      if ((step.duration === undefined) === (step.until === undefined))
        out.push({ path: path, message: 'a wait step needs exactly one of duration or until' });
      if (step.until && step.timeout === undefined)
        out.push({ path: at('until'), message: 'waiting until an event needs a timeout, or the run could wait forever' });
      if (step.until?.match) condition(step.until.match, at('until', 'match'));
      break;
    case 'parallel':
      break;
  }
  return out;
}

/** A condition (`when`, a decide branch, `until.match`): compiles, reads known names, and can yield a bool. */
export function checkCondition(source: string, path: PropertyKey[], known: Known): GraphProblem[] {
  const found = checkExpression(source, path, false, known);
  const problem = found.length === 0 ? conditionTypeProblem(source, known) : undefined;
  return problem ? [...found, { path, message: problem }] : found;
}

function checkCall(
  catalog: ActionCatalog,
  call: { action: string; params?: Record<string, unknown> },
  path: PropertyKey[],
  known: Known,
): GraphProblem[] {
  const out = checkActionCall(catalog, call, { action: [...path, 'action'], params: [...path, 'params'] });
  for (const t of templatesIn(call.params ?? {}, [...path, 'params'])) out.push(...checkExpression(t.text, t.path, true, known));
  return out;
}

function checkExpression(source: string, path: PropertyKey[], template: boolean, known: Known): GraphProblem[] {
  try {
    const refs = template ? checkTemplate(source).refs : compileExpression(source).refs;
    return refs.filter((r) => !known[r.variable].has(r.name)).map((r) => ({ path, message: unknownReference(r) }));
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    const what = { syntax: 'syntax error', type: 'type error', limit: 'too costly', evaluation: 'error', budget: 'too costly', input: 'error' }[
      err.kind
    ];
    return [
      { path, message: `${template ? 'template' : 'CEL'} ${what} at character ${err.offset + 1} of '${clip(source)}': ${err.message}` },
    ];
  }
}

/** What expressions may read by name: the playbook's step ids, inputs and env variables. */
export interface Known {
  steps: Set<string>;
  inputs: Set<string>;
  env: Set<string>;
  /** The declared type of each input, so a condition that is just a string input is found. */
  inputTypes?: Record<string, PlaybookInput['type']>;
}

/*
 * Static types of conditions. expressions.ts declares every context variable a `map` (all
 * fields `dyn`), which keeps evaluation lenient but lets `when: trigger.severity` pass its
 * type check. Here the same library checks conditions against what the engine is known to put
 * in the context (src/engine/context.ts, src/triggers/event.ts) and refuses a condition only
 * when its type is known and cannot be bool. To stay sound, a field is declared with a
 * concrete type only when every run gives it that type (numbers may be CEL int or double, so
 * they are `dyn`; payloads and step outputs are `dyn`), and an expression this checker
 * cannot type (e.g. it reads a field not declared here) passes: the compile above is the
 * judge of validity.
 */
const TRIGGER_FIELDS = {
  source: 'string',
  type: 'string',
  key: 'string',
  severity: 'string',
  summary: 'string',
  labels: 'map<string, string>',
  annotations: 'map<string, string>',
  // The event is stored as JSON: the timestamp is a string by the time expressions read it.
  occurredAt: 'string',
  resolved: 'bool',
  groupKey: 'string',
  slo: { name: 'string', service: 'string', severity: 'string', burnRates: 'map<string, dyn>', budgetRemaining: 'dyn' },
  payload: 'dyn',
  correlationId: 'string',
};
const RUN_FIELDS = {
  id: 'string',
  correlationId: 'string',
  playbook: 'string',
  playbookHash: 'string',
  drill: 'bool',
  startedAt: 'string',
  events: 'list',
};
const INPUT_TYPES: Record<PlaybookInput['type'], string> = {
  string: 'string',
  duration: 'string',
  boolean: 'bool',
  integer: 'int',
  number: 'dyn', // whole numbers arrive as CEL int, others as double
  list: 'list',
  map: 'map',
};
/** CEL types that are never a bool at run time; anything else (bool, dyn, type parameters) passes. */
const NOT_BOOL = /^(string|int|uint|double|bytes|null|list|map|optional|google\.protobuf\.(Timestamp|Duration))\b/;

let typedBase: Environment | undefined;
const typedByInputs = new Map<string, Environment>();

function typedEnvironment(inputTypes: Record<string, PlaybookInput['type']>): Environment {
  const inputs = Object.fromEntries(Object.entries(inputTypes).map(([name, type]) => [name, INPUT_TYPES[type]]));
  const signature = JSON.stringify(inputs);
  const hit = typedByInputs.get(signature);
  if (hit) return hit;
  if (!typedBase) {
    // The evaluating environment's options (expressions.ts), so both read a source alike.
    typedBase = new Environment(CEL_OPTIONS)
      .registerVariable({ name: 'trigger', schema: TRIGGER_FIELDS })
      .registerVariable({ name: 'run', schema: RUN_FIELDS })
      .registerVariable('steps', 'map')
      .registerVariable('env', 'map<string, string>') // only strings: src/engine/context.ts
      .registerVariable('event', 'map');
  }
  const env = typedBase.clone().registerVariable({ name: 'inputs', schema: inputs });
  if (typedByInputs.size >= 200) typedByInputs.delete(typedByInputs.keys().next().value as string);
  typedByInputs.set(signature, env);
  return env;
}

/** Why a condition that compiles can never be true or false, or undefined when it may be. */
export function conditionTypeProblem(source: string, known: Pick<Known, 'inputTypes'>): string | undefined {
  let type: string | undefined;
  try {
    const checked = typedEnvironment(known.inputTypes ?? {}).check(source);
    type = checked.valid ? checked.type : undefined;
  } catch {
    return undefined;
  }
  if (type === undefined || !NOT_BOOL.test(type)) return undefined;
  const shown = type.replace(/^google\.protobuf\.(Timestamp|Duration)$/, (_m, t: string) => t.toLowerCase());
  return `condition '${clip(source)}' yields ${/^[aeiou]/.test(shown) ? 'an' : 'a'} ${shown}, never true or false: compare it (e.g. ==, in, has()) so it yields a bool`;
}

function unknownReference(r: Reference): string {
  if (r.variable === 'steps') return `expression reads steps.${r.name}, but there is no step '${r.name}'`;
  if (r.variable === 'inputs') return `expression reads inputs.${r.name}, but the playbook declares no input '${r.name}'`;
  return `expression reads env.${r.name}, but ${r.name} is not listed in env (only listed variables are visible)`;
}

function checkHuman(step: Extract<Step, { kind: 'human' }>, path: PropertyKey[]): GraphProblem[] {
  const out: GraphProblem[] = [];
  const at = (...rest: PropertyKey[]) => [...path, ...rest];
  if (step.type === 'choice' && !step.options) out.push({ path: at('type'), message: 'a choice step needs options (at least two)' });
  if (step.type !== 'choice' && step.options) out.push({ path: at('options'), message: `options apply to type: choice, not ${step.type}` });
  if (step.type !== 'input' && step.input) out.push({ path: at('input'), message: `input applies to type: input, not ${step.type}` });
  if (step.options) {
    const seen = new Set<string>();
    step.options.forEach((o, i) => {
      if (seen.has(o.value)) out.push({ path: at('options', i, 'value'), message: `duplicate option '${o.value}'` });
      seen.add(o.value);
    });
  }
  if (step.input?.pattern) {
    const problem = patternProblem(step.input.pattern);
    if (problem) out.push({ path: at('input', 'pattern'), message: problem });
  }
  if (step.assign) out.push(...checkAssign(step.assign, at('assign')));
  const escalate = step.sla?.escalateTo;
  if (escalate === 'next-level' && !step.assign?.pagerduty?.escalationPolicy) {
    out.push({
      path: at('sla', 'escalateTo'),
      message: 'escalateTo: next-level needs assign.pagerduty.escalationPolicy; name users or a group instead',
    });
  } else if (escalate && escalate !== 'next-level') out.push(...checkAssign(escalate, at('sla', 'escalateTo')));
  if (step.sla?.reassign && !escalate)
    out.push({ path: at('sla', 'reassign'), message: 'reassign needs sla.escalateTo: whom to reassign to' });
  return out;
}

function checkAssign(assign: Assign, path: PropertyKey[]): GraphProblem[] {
  const given = (['pagerduty', 'slack', 'users'] as const).filter((k) => assign[k] !== undefined);
  if (given.length !== 1)
    return [{ path, message: `assign needs exactly one of pagerduty, slack or users${given.length ? ` (got ${given.join(', ')})` : ''}` }];
  const pd = assign.pagerduty;
  if (pd && (pd.escalationPolicy === undefined) === (pd.schedule === undefined)) {
    return [{ path: [...path, 'pagerduty'], message: 'assign.pagerduty needs exactly one of escalationPolicy or schedule' }];
  }
  return [];
}

function clip(text: string): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > 60 ? `${one.slice(0, 57)}...` : one;
}
