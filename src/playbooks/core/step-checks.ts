import type { ActionCatalog } from './catalog.js';
import { durationMs } from './duration.js';
import { compileExpression, ExpressionError, type Reference } from './expressions.js';
import { patternProblem } from './patterns.js';
import type { GraphProblem } from './graph.js';
import { checkActionCall } from './action-checks.js';
import type { Assign, Step } from './model.js';
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

  if (step.when) expr(step.when, at('when'), false);
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
        expr(b.when, at('branches', i, 'when'), false);
      });
      if (step.next !== undefined)
        out.push({ path: at('next'), message: 'a decide step jumps through its branches and default, not next' });
      break;
    case 'wait':
      if ((step.duration === undefined) === (step.until === undefined))
        out.push({ path: path, message: 'a wait step needs exactly one of duration or until' });
      if (step.until && step.timeout === undefined)
        out.push({ path: at('until'), message: 'waiting until an event needs a timeout, or the run could wait forever' });
      if (step.until?.match) expr(step.until.match, at('until', 'match'), false);
      break;
    case 'parallel':
      break;
  }
  return out;
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
