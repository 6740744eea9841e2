import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from '../../../src/config/load.js';
import { openDatabase } from '../../../src/db/database.js';

// The two variables of the audit trail's role separation: checked at start-up, never printed.
describe('audit configuration', () => {
  it('refuses a short QUENCH_AUDIT_KEY without echoing it', () => {
    expect(() => loadConfig({ QUENCH_AUDIT_KEY: 'short-s3cret' })).toThrow(/QUENCH_AUDIT_KEY: expected at least 32 characters/);
    expect(() => loadConfig({ QUENCH_AUDIT_KEY: 'short-s3cret' })).not.toThrow(/short-s3cret/);
    expect(loadConfig({ QUENCH_AUDIT_KEY: 'k'.repeat(32) }).QUENCH_AUDIT_KEY).toBe('k'.repeat(32));
  });

  it('checks QUENCH_MIGRATION_DATABASE_URL like DATABASE_URL, and masks both', () => {
    expect(() => loadConfig({ QUENCH_MIGRATION_DATABASE_URL: 'mysql://owner:pw@db/x' })).toThrow(/QUENCH_MIGRATION_DATABASE_URL: expected postgres:\/\//);
    const shown = describeConfig(
      loadConfig({ DATABASE_URL: 'postgres://svc:pw1@h/db', QUENCH_MIGRATION_DATABASE_URL: 'postgres://owner:pw2@h/db', QUENCH_AUDIT_KEY: 'k'.repeat(40) }),
    );
    expect(shown).toMatchObject({ DATABASE_URL: '***', QUENCH_MIGRATION_DATABASE_URL: '***', QUENCH_AUDIT_KEY: '***' });
    expect(JSON.stringify(shown)).not.toMatch(/pw1|pw2|kkkk/);
  });

  it('a migration role without a service role is refused, saying what to set', async () => {
    await expect(openDatabase({ dataDir: 'memory://', migrationUrl: 'postgres://owner@127.0.0.1:1/x' })).rejects.toThrow(
      /QUENCH_MIGRATION_DATABASE_URL is set without DATABASE_URL/,
    );
  });
});
