import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isQuenchError } from '../../../src/core/errors.js';
import { playbookSchema } from '../../../src/playbooks/core/playbook-schema.js';
import { loadPlaybooks, loadPlaybooksStrict, playbookHash, restoreSnapshot } from '../../../src/playbooks/loader.js';
import { PlaybookStore } from '../../../src/playbooks/store.js';
import { fixtureCatalog } from './fixtures.js';

const PLAYBOOK = `apiVersion: quench/v1
kind: Playbook
metadata:
  name: api-restart
  owner: team-api
steps:
  - id: note
    kind: action
    action: log
    params: { message: restarting }
  - id: scale
    kind: action
    action: deploy.scale
    params: { service: api, replicas: 4 }
`;

/** The same playbook, reformatted: key order, quoting, comments and flow style differ. */
const REFORMATTED = `# a comment
kind: Playbook
apiVersion: "quench/v1"
metadata: { owner: team-api, name: api-restart }
steps:
  - { kind: action, id: note, params: { message: "restarting" }, action: log }
  - id: scale
    action: deploy.scale
    kind: action
    params:
      replicas: 4
      service: api
`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'quench-playbooks-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('loading playbooks', () => {
  it('loads valid playbooks with a sha256 content hash and ignores other kinds', () => {
    writeFileSync(join(dir, 'a.yaml'), PLAYBOOK);
    writeFileSync(join(dir, 'slo.yaml'), 'apiVersion: quench/v1\nkind: SLO\nmetadata: { name: x }\n');
    const { playbooks, problems } = loadPlaybooks([dir], fixtureCatalog);
    expect(problems).toEqual([]);
    expect(playbooks).toHaveLength(1);
    expect(playbooks[0]).toMatchObject({ name: 'api-restart', file: join(dir, 'a.yaml') });
    expect(playbooks[0]!.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('gives the same hash to a reformatted file and a different one to a changed file', () => {
    writeFileSync(join(dir, 'a.yaml'), PLAYBOOK);
    const first = loadPlaybooks([dir], fixtureCatalog).playbooks[0]!.hash;
    writeFileSync(join(dir, 'a.yaml'), REFORMATTED);
    expect(loadPlaybooks([dir], fixtureCatalog).playbooks[0]!.hash).toBe(first);
    writeFileSync(join(dir, 'a.yaml'), PLAYBOOK.replace('replicas: 4', 'replicas: 5'));
    expect(loadPlaybooks([dir], fixtureCatalog).playbooks[0]!.hash).not.toBe(first);
  });

  it('leaves out invalid playbooks and reports them; strict loading throws with every problem', () => {
    writeFileSync(join(dir, 'a.yaml'), PLAYBOOK);
    writeFileSync(join(dir, 'b.yaml'), PLAYBOOK.replace('api-restart', 'broken').replace('action: log', 'action: lg'));
    const { playbooks, problems } = loadPlaybooks([dir], fixtureCatalog);
    expect(playbooks.map((p) => p.name)).toEqual(['api-restart']);
    expect(problems.map((p) => `${p.file}:${p.line}:${p.col}`)).toEqual([`${join(dir, 'b.yaml')}:9:5`]);
    try {
      loadPlaybooksStrict([dir], fixtureCatalog);
      expect.unreachable();
    } catch (err) {
      expect(isQuenchError(err, 'validation_failed')).toBe(true);
      expect((err as Error).message).toContain(`${join(dir, 'b.yaml')}:9:5: unknown action 'lg'`);
    }
  });

  it('reports a duplicate name across files and keeps the first', () => {
    writeFileSync(join(dir, 'a.yaml'), PLAYBOOK);
    writeFileSync(join(dir, 'b.yaml'), PLAYBOOK);
    const { playbooks, problems } = loadPlaybooks([dir], fixtureCatalog);
    expect(playbooks.map((p) => p.file)).toEqual([join(dir, 'a.yaml')]);
    expect(problems.map((p) => `${p.line}:${p.col} ${p.message}`)).toEqual([
      `4:3 duplicate playbook name 'api-restart' (also defined at ${join(dir, 'a.yaml')}:4:3)`,
    ]);
  });

  it('reports YAML syntax errors', () => {
    writeFileSync(join(dir, 'a.yaml'), 'apiVersion: quench/v1\nkind: [Playbook\n');
    const { problems } = loadPlaybooks([dir], fixtureCatalog);
    expect(problems[0]?.message).toMatch(/^YAML syntax/);
  });
});

describe('snapshots', () => {
  it('a parsed playbook re-parses to itself (what a run persists is readable again)', () => {
    writeFileSync(join(dir, 'a.yaml'), PLAYBOOK);
    const loaded = loadPlaybooks([dir], fixtureCatalog).playbooks[0]!;
    const snapshot = JSON.parse(JSON.stringify(loaded.definition));
    expect(playbookSchema.parse(snapshot)).toEqual(loaded.definition);
    const restored = restoreSnapshot(snapshot, loaded.hash, fixtureCatalog);
    expect(restored.hash).toBe(loaded.hash);
    expect(restored.definition).toEqual(loaded.definition);
  });

  it('refuses a snapshot that does not hash to the pinned version', () => {
    writeFileSync(join(dir, 'a.yaml'), PLAYBOOK);
    const loaded = loadPlaybooks([dir], fixtureCatalog).playbooks[0]!;
    const tampered = JSON.parse(JSON.stringify(loaded.definition));
    tampered.steps[1].params.replicas = 40;
    expect(() => restoreSnapshot(tampered, loaded.hash)).toThrow(/hashes to sha256:[0-9a-f]+, not the sha256:/);
    expect(() => restoreSnapshot({ apiVersion: 'quench/v1' }, loaded.hash)).toThrow(/no longer parses/);
  });

  it('playbookHash does not depend on key order', () => {
    const a = playbookSchema.parse({
      apiVersion: 'quench/v1',
      kind: 'Playbook',
      metadata: { name: 'x', owner: 'o' },
      steps: [{ id: 'a', kind: 'action', action: 'log', params: { b: 1, a: 2 } }],
    });
    const b = playbookSchema.parse({
      steps: [{ params: { a: 2, b: 1 }, action: 'log', kind: 'action', id: 'a' }],
      metadata: { owner: 'o', name: 'x' },
      kind: 'Playbook',
      apiVersion: 'quench/v1',
    });
    expect(playbookHash(a)).toBe(playbookHash(b));
  });
});

describe('PlaybookStore', () => {
  const version = (name: string, hash: string) => ({ name, hash, file: `${name}.yaml`, definition: { metadata: { name } } as never });

  it('reports added, changed and removed playbooks and keeps old versions for pinned runs', () => {
    const store = new PlaybookStore();
    expect(store.replace([version('a', 'h1'), version('b', 'h2')])).toEqual([
      { name: 'a', change: 'added', hash: 'h1', file: 'a.yaml' },
      { name: 'b', change: 'added', hash: 'h2', file: 'b.yaml' },
    ]);
    expect(store.replace([version('a', 'h3'), version('b', 'h2')])).toEqual([
      { name: 'a', change: 'changed', hash: 'h3', previousHash: 'h1', file: 'a.yaml' },
    ]);
    expect(store.replace([version('a', 'h3')])).toEqual([{ name: 'b', change: 'removed', previousHash: 'h2', file: 'b.yaml' }]);
    expect(store.current('a')?.hash).toBe('h3');
    expect(store.current('b')).toBeUndefined();
    expect(store.version('a', 'h1')?.hash).toBe('h1');
    expect(store.version('b', 'h2')?.hash).toBe('h2');
    expect(store.list().map((p) => p.name)).toEqual(['a']);
  });

  it('remembers a restored version without making it current', () => {
    const store = new PlaybookStore([version('a', 'h1')]);
    store.remember(version('a', 'old'));
    expect(store.current('a')?.hash).toBe('h1');
    expect(store.version('a', 'old')?.hash).toBe('old');
  });
});
