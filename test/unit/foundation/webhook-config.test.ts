import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';

// Issue 9 §4: half an Alertmanager basic-auth pair used to leave the endpoint open silently.
describe('webhook configuration', () => {
  it('refuses QUENCH_ALERTMANAGER_USERNAME without _PASSWORD, and the reverse', () => {
    expect(() => loadConfig({ QUENCH_ALERTMANAGER_USERNAME: 'am' })).toThrow(
      /QUENCH_ALERTMANAGER_PASSWORD: set both QUENCH_ALERTMANAGER_USERNAME and QUENCH_ALERTMANAGER_PASSWORD, or neither/,
    );
    expect(() => loadConfig({ QUENCH_ALERTMANAGER_PASSWORD: 'pw-secret' })).toThrow(/QUENCH_ALERTMANAGER_USERNAME: set both/);
    expect(() => loadConfig({ QUENCH_ALERTMANAGER_PASSWORD: 'pw-secret' })).not.toThrow(/pw-secret/);
    expect(loadConfig({ QUENCH_ALERTMANAGER_USERNAME: 'am', QUENCH_ALERTMANAGER_PASSWORD: 'pw' }).QUENCH_ALERTMANAGER_USERNAME).toBe('am');
  });

  it('reads QUENCH_INBOX_RETENTION as a duration of at least an hour, 14 days by default', () => {
    expect(loadConfig({}).QUENCH_INBOX_RETENTION).toBe(14 * 86_400_000);
    expect(loadConfig({ QUENCH_INBOX_RETENTION: '36h' }).QUENCH_INBOX_RETENTION).toBe(36 * 3_600_000);
    expect(() => loadConfig({ QUENCH_INBOX_RETENTION: '30m' })).toThrow(/QUENCH_INBOX_RETENTION: expected a duration of at least 1h/);
    expect(() => loadConfig({ QUENCH_INBOX_RETENTION: 'forever' })).toThrow(/QUENCH_INBOX_RETENTION/);
  });
});
