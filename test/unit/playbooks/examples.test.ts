import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../src/definitions/problem.js';
import { knownActions } from '../../../src/playbooks/catalog.js';
import { evaluateCondition } from '../../../src/playbooks/core/expressions.js';
import { resolveInputs } from '../../../src/playbooks/core/inputs.js';
import type { Step } from '../../../src/playbooks/core/model.js';
import { renderValue } from '../../../src/playbooks/core/templates.js';
import { allSteps } from '../../../src/playbooks/core/walk.js';
import { loadPlaybooks } from '../../../src/playbooks/loader.js';

/**
 * The shipped examples (playbooks/) validate against the real action registry, and every
 * condition and template in them evaluates against a realistic run context (outputs shaped
 * like the engine's), so an example cannot hide an expression that fails at run time.
 */
const loaded = loadPlaybooks(['playbooks'], knownActions());

function sampleOutput(step: Step): unknown {
  if (step.kind === 'human') return { decision: 'choose', value: 'failover', by: ['ana', 'bo'], at: '2026-03-01T12:05:00.000Z' };
  if (step.kind !== 'action') return null;
  switch (step.action) {
    case 'exec':
      return { exitCode: 0, signal: null, stdout: 'REVISION 41\nREVISION 42', stderr: '', truncated: false };
    case 'slo.check':
      return { name: 'x', budgetRemaining: 0.05, attainment: 0.998 };
    case 'http.request':
      return { status: 202, body: { ok: true }, truncated: false };
    case 'pagerduty.trigger':
      return { dedupKey: 'corr-1', status: 'triggered' };
    default:
      return { message: 'ok' };
  }
}

describe('example playbooks', () => {
  it('validate with no problems against the real action registry', () => {
    expect(loaded.problems.map(formatProblem)).toEqual([]);
    expect(loaded.playbooks.map((p) => p.name).sort()).toEqual(['checkout-fast-burn', 'demo-burn-response', 'payments-api-errors']);
  });

  it.each(loaded.playbooks.map((p) => [p.name, p] as const))('%s: every condition and template evaluates', (_name, p) => {
    const inputs = resolveInputs(p.definition, {});
    expect(inputs.ok).toBe(true);
    const located = allSteps(p.definition);
    const context = {
      trigger: {
        source: 'slo',
        type: 'slo.burn',
        key: 'k1',
        severity: 'critical',
        summary: 'availability burning 14x',
        labels: { service: 'checkout' },
        annotations: {},
        occurredAt: new Date('2026-03-01T12:00:00Z'),
        resolved: false,
        slo: { name: 'x', severity: 'page', burnRates: { '1h': 14.4 } },
      },
      inputs: inputs.ok ? inputs.inputs : {},
      steps: Object.fromEntries(
        located.map(({ step }) => [step.id, { status: 'succeeded', output: sampleOutput(step), params: null, error: null }]),
      ),
      env: {},
      run: {
        id: 'run-1',
        correlationId: 'corr-1',
        playbook: p.name,
        events: [{ type: 'alert.resolved', payload: {}, receivedAt: '2026-03-01T12:20:00Z' }],
      },
    };
    let evaluated = 0;
    for (const { step } of located) {
      if (step.when) expect(typeof evaluateCondition(step.when, context)).toBe('boolean');
      if (step.kind === 'decide') for (const b of step.branches) expect(typeof evaluateCondition(b.when, context)).toBe('boolean');
      const texts: unknown[] = [];
      if (step.kind === 'action') texts.push(step.params);
      if (step.kind === 'human') texts.push(step.prompt, step.description, step.confidence);
      if (step.compensate) texts.push(step.compensate.params);
      if (step.fallback?.params) texts.push(step.fallback.params);
      for (const t of texts) {
        expect(() => renderValue(t, context)).not.toThrow();
        evaluated++;
      }
    }
    // At least every action's parameters were rendered.
    expect(evaluated).toBeGreaterThanOrEqual(located.filter(({ step }) => step.kind === 'action').length);
    expect(evaluated).toBeGreaterThan(0);
  });

  it('renders the payments failover summary from the human decision', () => {
    const p = loaded.playbooks.find((x) => x.name === 'payments-api-errors')!;
    const page = allSteps(p.definition).find((s) => s.step.id === 'page')!.step;
    if (page.kind !== 'action') throw new Error('page is an action step');
    const ctx = { steps: { chooseRemedy: { output: { by: ['ana', 'bo'] } } }, run: { id: 'r1' } };
    expect(renderValue(page.params, ctx)).toMatchObject({ summary: 'payments-api failover chosen by ana, bo (run r1)' });
  });
});
