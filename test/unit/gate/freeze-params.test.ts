import { describe, expect, it } from 'vitest';
import { knownActions } from '../../../src/playbooks/catalog.js';
import { checkActionCall } from '../../../src/playbooks/core/action-checks.js';

/**
 * `quench validate` checks a `deploy.freeze` step's `until` as written: a typo used to pass
 * validation and fail only when an incident ran the playbook. Templated values wait for
 * rendering, where the same schema checks them again.
 */
const at = { action: ['steps', 0, 'action'], params: ['steps', 0, 'params'] };
const problems = (until: string) =>
  checkActionCall(knownActions(), { action: 'deploy.freeze', params: { services: ['checkout'], reason: 'remediating', until } }, at).map((p) => p.message);

describe('deploy.freeze until in a playbook', () => {
  it.each(['4 hours', '2026-02-30T10:00:00Z', '2026-03-10T09:00:00', '400d', 'tomorrow'])('refuses %j with a message that names it', (until) => {
    const found = problems(until);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(`parameter 'until'`);
    expect(found[0]).toContain(`'${until}'`);
  });

  it('refuses a duration past 366 days without naming an end date it cannot know', () => {
    // Found by an attacker: validation has no "now" and said '2y' ends 1972-01-01.
    for (const until of ['400d', '2y', '53w']) {
      const [found] = problems(until);
      expect(found).toContain('at most 366 days');
      expect(found).not.toMatch(/\d{4}-\d{2}-\d{2}/);
    }
  });

  it.each(['30m', '4h', '1h30m', '2027-01-05T18:00:00Z', '2027-01-05', '${{ inputs.hours }}h', '${{ inputs.until }}'])('accepts %j', (until) => {
    expect(problems(until)).toEqual([]);
  });
});
