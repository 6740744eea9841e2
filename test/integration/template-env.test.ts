import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { waitFor } from '../support/wait-for.js';
import { playbook } from './engine-harness.js';

// Issue 9 §5: templates read only the variables the operator allowlists in
// QUENCH_TEMPLATE_ENV. The old secret-name denylist let SENTRY_DSN, OTEL headers and URLs
// with credentials through, because their names do not look like secrets.
describe('QUENCH_TEMPLATE_ENV', () => {
  let service: RunningService | undefined;
  const saved = { ...process.env };
  afterEach(async () => {
    await service?.stop();
    service = undefined;
    for (const name of ['SENTRY_DSN', 'OTEL_EXPORTER_OTLP_HEADERS', 'QUENCH_TEST_REGION']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  it('shows templates the allowlisted variables only, whatever the playbook lists', async () => {
    process.env.SENTRY_DSN = 'https://public:s3cr3t@sentry.example/1';
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'authorization=Bearer otel-s3cr3t';
    process.env.QUENCH_TEST_REGION = 'eu-west-1';
    const config = loadConfig({
      QUENCH_DATA_DIR: 'memory://',
      QUENCH_SLO_DIR: 'test/fixtures/none',
      QUENCH_PLAYBOOK_DIR: 'test/fixtures/none',
      QUENCH_TEMPLATE_ENV: 'QUENCH_TEST_REGION',
    });
    service = await startService(config, { logger: silentLogger, port: 0, host: '127.0.0.1' });
    const engine = service.ctx.ports.engine;
    const show = (name: string) => `\${{ has(env.${name}) ? env.${name} : "hidden" }}`;
    const { runId } = await engine.startRun({
      playbook: playbook(
        'env-reader',
        [
          {
            id: 'read',
            kind: 'action',
            action: 'log',
            params: { message: `${show('QUENCH_TEST_REGION')} ${show('SENTRY_DSN')} ${show('OTEL_EXPORTER_OTLP_HEADERS')}` },
          },
        ],
        { env: ['QUENCH_TEST_REGION', 'SENTRY_DSN', 'OTEL_EXPORTER_OTLP_HEADERS'] },
      ),
    });
    const run = await waitFor('the run to end', async () => {
      const r = await engine.getRun(runId);
      return r && ['succeeded', 'failed'].includes(r.state) ? r : undefined;
    });
    const text = JSON.stringify(run);
    expect(text).toContain('eu-west-1 hidden hidden');
    expect(text).not.toMatch(/s3cr3t/);
  });

  it('refuses names that are not environment variable names', () => {
    expect(() => loadConfig({ QUENCH_TEMPLATE_ENV: 'REGION,not a name' })).toThrow(/QUENCH_TEMPLATE_ENV/);
  });
});
