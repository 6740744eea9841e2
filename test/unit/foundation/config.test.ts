import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from '../../../src/config/load.js';
import { QuenchError } from '../../../src/core/errors.js';

function configError(env: NodeJS.ProcessEnv): QuenchError {
  try {
    loadConfig(env);
  } catch (err) {
    return err as QuenchError;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      QUENCH_DATA_DIR: './.quench',
      QUENCH_SLO_DIR: './slo',
      QUENCH_PLAYBOOK_DIR: './playbooks',
      QUENCH_REPORT_CRON: '0 9 * * 1',
      QUENCH_WEBHOOK_MAX_BYTES: 1048576,
      LOG_LEVEL: 'info',
    });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.QUENCH_API_TOKENS.size).toBe(0);
  });

  it('lists every bad variable at once, naming each and what is expected', () => {
    const err = configError({ PORT: 'eighty', DATABASE_URL: 'mysql://root@db/x', LOG_LEVEL: 'loud', PROMETHEUS_URL: 'prom:9090' });
    expect(err.code).toBe('config_invalid');
    expect(err.message).toMatch(/PORT: expected a whole number/);
    expect(err.message).toMatch(/DATABASE_URL: expected postgres:\/\//);
    expect(err.message).toMatch(/LOG_LEVEL:/);
    expect(err.message).toMatch(/PROMETHEUS_URL: expected an http\(s\) URL/);
  });

  it('rejects ports out of range', () => {
    expect(configError({ PORT: '70000' }).message).toMatch(/PORT/);
    expect(loadConfig({ PORT: '0' }).PORT).toBe(0);
  });

  it('never echoes a secret in an error', () => {
    const err = configError({ DATABASE_URL: 'mysql://admin:hunter2@db/x', QUENCH_API_TOKENS: 'alice-s3cr3t-no-equals-sign' });
    expect(err.message).toMatch(/QUENCH_API_TOKENS/);
    expect(err.message).not.toMatch(/hunter2|s3cr3t/);
  });

  it('parses user=token pairs inline or from a file, and masks them when described', () => {
    const inline = loadConfig({ QUENCH_API_TOKENS: 'alice=tok-a-0123456789abcdef0123456789ab, bob=tok-b-0123456789abcdef0123456789ab', QUENCH_WEBHOOK_SECRETS: 'ci=abc' });
    expect([...inline.QUENCH_API_TOKENS]).toEqual([
      ['alice', 'tok-a-0123456789abcdef0123456789ab'],
      ['bob', 'tok-b-0123456789abcdef0123456789ab'],
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'quench-config-'));
    const file = join(dir, 'tokens');
    writeFileSync(file, '# operators\ncarol=tok-c-0123456789abcdef0123456789ab\ndave=tok-d-0123456789abcdef0123456789ab\n');
    expect([...loadConfig({ QUENCH_API_TOKENS: file }).QUENCH_API_TOKENS.keys()]).toEqual(['carol', 'dave']);
    const described = JSON.stringify(
      describeConfig(loadConfig({ QUENCH_API_TOKENS: 'alice=tok-a-0123456789abcdef0123456789ab', DATABASE_URL: 'postgres://u:pw@h/db' })),
    );
    expect(described).not.toMatch(/tok-a-0123456789abcdef0123456789ab|pw@/);
    expect(described).toMatch(/alice=\*\*\*/);
  });
});
