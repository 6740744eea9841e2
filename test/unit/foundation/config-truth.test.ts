import { describe, expect, it } from 'vitest';
import { defaultApprovalPolicy } from '../../../src/chat/core/auto-approval.js';
import { loadConfig } from '../../../src/config/load.js';

/**
 * Issue 15, "Configuration tells the truth": QUENCH_APPROVAL_POLICY, half-set Slack settings and
 * QUENCH_REPORT_CRON are checked by the configuration schema at start-up, naming the variable
 * and what it expects (and never echoing a secret).
 */
const base = { QUENCH_DATA_DIR: 'memory://' };
const problem = (env: Record<string, string>): string => {
  try {
    loadConfig({ ...base, ...env });
  } catch (err) {
    return (err as Error).message;
  }
  return '';
};

describe('QUENCH_APPROVAL_POLICY', () => {
  it('is parsed once, merged over the default', () => {
    expect(loadConfig(base).QUENCH_APPROVAL_POLICY).toBeUndefined();
    const policy = loadConfig({ ...base, QUENCH_APPROVAL_POLICY: '{"sampleShare":0.25}' }).QUENCH_APPROVAL_POLICY;
    expect(policy).toEqual({ ...defaultApprovalPolicy, sampleShare: 0.25 });
  });
  it('refuses bad JSON, a non-object and a bad field, naming the variable and the field', () => {
    expect(problem({ QUENCH_APPROVAL_POLICY: '{sampleShare: 0.2' })).toMatch(/QUENCH_APPROVAL_POLICY: expected a JSON object/);
    expect(problem({ QUENCH_APPROVAL_POLICY: '[1]' })).toMatch(/QUENCH_APPROVAL_POLICY: expected a JSON object/);
    expect(problem({ QUENCH_APPROVAL_POLICY: '{"sampleShare":2}' })).toMatch(/QUENCH_APPROVAL_POLICY: sampleShare: /);
    expect(problem({ QUENCH_APPROVAL_POLICY: '{"grid":{"low":{"high":"yes"}}}' })).toMatch(/QUENCH_APPROVAL_POLICY: grid\.low/);
  });
});

describe('Slack settings', () => {
  it('accepts none, HTTP mode and Socket Mode', () => {
    expect(problem({})).toBe('');
    expect(problem({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret-value' })).toBe('');
    expect(problem({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' })).toBe('');
  });
  it('refuses half a configuration, naming what is missing', () => {
    expect(problem({ SLACK_BOT_TOKEN: 'xoxb-1' })).toMatch(/SLACK_SIGNING_SECRET: missing: SLACK_BOT_TOKEN is set.*SLACK_APP_TOKEN/);
    expect(problem({ SLACK_SIGNING_SECRET: 'secret-value' })).toMatch(/SLACK_BOT_TOKEN: missing: SLACK_SIGNING_SECRET is set/);
    expect(problem({ SLACK_APP_TOKEN: 'xapp-1' })).toMatch(/SLACK_BOT_TOKEN: missing: SLACK_APP_TOKEN is set/);
    expect(problem({ SLACK_SIGNING_SECRET: 'secret-value' })).not.toContain('secret-value');
  });
  it('refuses tokens of the wrong kind', () => {
    expect(problem({ SLACK_BOT_TOKEN: 'xoxp-user', SLACK_SIGNING_SECRET: 's' })).toMatch(/SLACK_BOT_TOKEN: expected a bot token starting with xoxb-/);
    expect(problem({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xoxb-2' })).toMatch(/SLACK_APP_TOKEN: expected an app-level token/);
  });
});

describe('QUENCH_REPORT_CRON', () => {
  it('defaults to Mondays 09:00 and accepts valid cron', () => {
    expect(loadConfig(base).QUENCH_REPORT_CRON).toBe('0 9 * * 1');
    expect(loadConfig({ ...base, QUENCH_REPORT_CRON: '30 8 * * 1-5' }).QUENCH_REPORT_CRON).toBe('30 8 * * 1-5');
  });
  it('refuses invalid cron syntax, naming the variable', () => {
    expect(problem({ QUENCH_REPORT_CRON: 'every monday' })).toMatch(/QUENCH_REPORT_CRON: expected a cron expression/);
    expect(problem({ QUENCH_REPORT_CRON: '0 25 * * 1' })).toMatch(/QUENCH_REPORT_CRON: expected a cron expression/);
  });
});
