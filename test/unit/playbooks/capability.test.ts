import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtinActions } from '../../../src/actions/builtins.js';
import { createAuditTrail } from '../../../src/audit/trail.js';
import { loadConfig } from '../../../src/config/load.js';
import { systemClock } from '../../../src/core/clock.js';
import { playbooksCapability } from '../../../src/playbooks/capability.js';
import type { ServiceContext } from '../../../src/service.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { freshDatabase, type TestDatabase } from '../../support/databases.js';

const playbook = (message: string, action = 'log') => `apiVersion: quench/v1
kind: Playbook
metadata: { name: notify, owner: ops }
steps:
  - { id: page, kind: action, action: pagerduty.trigger, params: { summary: "\${{ trigger.summary }}" } }
  - { id: say, kind: action, action: ${action}, params: { message: ${JSON.stringify(message)} } }
`;

let dir: string;
let test: TestDatabase | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'quench-pb-cap-'));
});
afterEach(async () => {
  await test?.dispose();
  test = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** The parts of the service context the capability reads, with a real audit trail on PGlite. */
async function context(): Promise<ServiceContext> {
  test = await freshDatabase('pglite');
  return {
    config: loadConfig({ QUENCH_PLAYBOOK_DIR: dir }),
    logger: createLogger('silent'),
    audit: createAuditTrail(test.db, systemClock),
    // The engine's live registry has only the built-ins yet; PagerDuty actions come from chat at its start.
    ports: { engine: { actions: builtinActions() } },
  } as unknown as ServiceContext;
}

describe('playbooks capability', () => {
  it('loads the folder into ports.playbooks, audits the load, and audits a changed file on reload', async () => {
    writeFileSync(join(dir, 'notify.yaml'), playbook('one'));
    const ctx = await context();
    const component = await playbooksCapability(ctx);
    const first = ctx.ports.playbooks!.current('notify')!;
    expect(first.hash).toMatch(/^sha256:/);
    await component!.start();

    writeFileSync(join(dir, 'notify.yaml'), playbook('two'));
    await (component as unknown as { reload(): Promise<void> }).reload();
    const second = ctx.ports.playbooks!.current('notify')!;
    expect(second.hash).not.toBe(first.hash);
    // The run pinned to the first version can still find it.
    expect(ctx.ports.playbooks!.version('notify', first.hash)?.definition.steps[1]).toMatchObject({ params: { message: 'one' } });

    // An invalid edit is not loaded: the current version stays.
    writeFileSync(join(dir, 'notify.yaml'), playbook('three', 'nope'));
    await (component as unknown as { reload(): Promise<void> }).reload();
    expect(ctx.ports.playbooks!.current('notify')!.hash).toBe(second.hash);
    await component!.stop();

    const entries = await ctx.audit.page({ limit: 10 });
    expect(entries.map((e) => [e.action, e.subject.id, e.data.hash, e.data.previousHash])).toEqual([
      ['playbook.loaded', 'notify', first.hash, null],
      ['playbook.changed', 'notify', second.hash, first.hash],
    ]);
  });

  it('refuses to start with an invalid playbook, listing the problem', async () => {
    writeFileSync(join(dir, 'notify.yaml'), playbook('x', 'nope'));
    // Loading fails before anything is audited, so no database is needed here.
    const ctx = {
      config: loadConfig({ QUENCH_PLAYBOOK_DIR: dir }),
      logger: createLogger('silent'),
      ports: { engine: { actions: builtinActions() } },
    };
    await expect(playbooksCapability(ctx as unknown as ServiceContext)).rejects.toThrow(/notify\.yaml:6:30: unknown action 'nope'/);
  });
});
