import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main.js';
import { guardedCheck } from '../../../src/definitions/guard.js';
import { parseYamlSource } from '../../../src/definitions/source.js';
import { type DefinitionValidator, validateDocuments } from '../../../src/definitions/validators.js';
import { loadPlaybooks } from '../../../src/playbooks/loader.js';
import { loadSlos } from '../../../src/slo/definitions.js';
import { fixtureCatalog } from '../playbooks/fixtures.js';

/**
 * One bad file is a located problem of that file, never an abort: `quench validate` still
 * reports the other files (also with --json), and the loaders (hot reload) name the file.
 */

const BOMB = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
`;
const PLAYBOOK = `apiVersion: quench/v1
kind: Playbook
metadata: { name: fine, owner: team }
steps: [{ id: a, kind: action, action: log, params: { message: hi } }]
`;
const lines = (file: string, text: string) => parseYamlSource(file, text).problems.map((p) => `${p.line}:${p.col} ${p.severity} ${p.message}`);

describe('parseYamlSource never throws', () => {
  it('an alias bomb is a problem at the alias where the expansion nests', () => {
    expect(lines('bomb.yaml', BOMB)).toEqual([
      '3:8 error too many YAML aliases (more than 100 expansions): expand them or reduce repetition',
    ]);
  });

  it('an alias without its anchor is a problem at the alias; the good documents of the file are kept', () => {
    const parsed = parseYamlSource('multi.yaml', `${PLAYBOOK}---\nkey: *nope\n---\n${PLAYBOOK}`);
    expect(parsed.problems.map((p) => `${p.line}:${p.col} ${p.message}`)).toEqual([
      '6:6 YAML alias *nope has no anchor &nope before it in this document: define the anchor first (anchors do not cross ---)',
    ]);
    expect(parsed.documents).toHaveLength(2);
  });

  it('duplicate keys, tabs, a bad document among good ones: problems, never exceptions', () => {
    expect(lines('dup.yaml', 'a: 1\na: 2\n')).toEqual(['2:1 error YAML syntax: Map keys must be unique']);
    expect(lines('tabs.yaml', 'a:\n\tb: 1\n')).toEqual(['2:1 error YAML syntax: Tabs are not allowed as indentation']);
    const multi = parseYamlSource('m.yaml', `${PLAYBOOK}---\n: : :\n`);
    expect(multi.documents).toHaveLength(1);
    expect(multi.problems.length).toBeGreaterThan(0);
  });

  it('an empty or comment-only file is a warning; a byte-order mark does not shift columns', () => {
    expect(lines('e.yaml', '')).toEqual(['1:1 warning no YAML document in this file (empty or only comments): nothing to validate']);
    expect(lines('c.yaml', '# nothing\n---\n')).toHaveLength(1);
    const bom = parseYamlSource('bom.yaml', '\uFEFFapiVersion: x\nkind: Y\n');
    expect(bom.problems).toEqual([]);
    expect(bom.documents[0]!.positionOf(['apiVersion'])).toEqual({ line: 1, col: 1 });
  });

  it('a scalar or list document is reported as not a mapping, located', () => {
    const docs = [...parseYamlSource('s.yaml', 'just text\n').documents, ...parseYamlSource('l.yaml', '- 1\n- [2]\n').documents];
    const problems = validateDocuments(docs).map((p) => `${p.file}:${p.line}:${p.col} ${p.message.slice(0, 32)}`);
    expect(problems).toEqual([
      's.yaml:1:1 unknown document (not a mapping)',
      'l.yaml:1:3 unknown document (not a mapping)',
      'l.yaml:2:3 unknown document (not a mapping)',
    ]);
  });
});

describe('a validator that throws on one document', () => {
  const docs = [...parseYamlSource('a.yaml', 'apiVersion: t/v1\nkind: T\nn: 1\n').documents, ...parseYamlSource('b.yaml', 'apiVersion: t/v1\nkind: T\nn: boom\n').documents];
  const validator: DefinitionValidator = {
    family: 'test',
    claims: (d) => (d.value as { apiVersion?: string }).apiVersion === 't/v1',
    validate: (ds) =>
      ds.map((d) => {
        if ((d.value as { n: unknown }).n === 'boom') throw new Error('cannot read n');
        return d.problem(['n'], 'seen');
      }),
  };

  it('costs only that document: the others are still validated', () => {
    expect(validateDocuments(docs, [validator]).map((p) => `${p.file}:${p.line}:${p.col} ${p.message}`)).toEqual([
      'b.yaml:1:1 this document could not be validated (cannot read n); this is a bug in Quench, please report it with the file',
      'a.yaml:3:1 seen',
    ]);
    expect(guardedCheck(docs.slice(0, 1), (ds) => ds.length)).toEqual({ result: 1, problems: [] });
  });
});

const dir = mkdtempSync(join(tmpdir(), 'quench-yaml-robust-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {} });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('quench validate and the loaders with an alias bomb among good files', () => {
  const folder = join(dir, 'defs');
  const bomb = join(folder, 'a-bomb.yaml');
  const bad = join(folder, 'z-bad.yaml');
  it('prints file:line:col for the bomb and still reports the other files', async () => {
    mkdirSync(folder, { recursive: true });
    writeFileSync(bomb, BOMB);
    writeFileSync(join(folder, 'good.yaml'), PLAYBOOK);
    writeFileSync(bad, PLAYBOOK.replace('name: fine', 'name: Bad_Name'));
    const { code, stdout } = await cli(['validate', folder]);
    expect(code).toBe(1);
    expect(stdout).toContain(`${bomb}:3:8: too many YAML aliases (more than 100 expansions): expand them or reduce repetition\n`);
    expect(stdout).toContain(`${bad}:3:`);

    const json = await cli(['validate', '--json', folder]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ valid: false, files: 3, documents: 2, errors: 2 });
    expect(report.problems[0]).toEqual({
      file: bomb,
      line: 3,
      col: 8,
      severity: 'error',
      message: 'too many YAML aliases (more than 100 expansions): expand them or reduce repetition',
    });

    // The SLO hot reload and the playbook loader get the same located problem instead of an exception.
    expect(loadSlos([folder]).problems.map((p) => `${p.file}:${p.line}:${p.col}`)).toContain(`${bomb}:3:8`);
    const playbooks = loadPlaybooks([folder], fixtureCatalog);
    expect(playbooks.playbooks.map((p) => p.name)).toEqual(['fine']);
    expect(playbooks.problems.map((p) => `${p.file}:${p.line}:${p.col}`)).toContain(`${bomb}:3:8`);
  });
});

describe('YAML merge keys (<<), as Go-based tools (oslo, Sloth, kubectl) read them', () => {
  it('merge a shared mapping into an SLO; the SLO’s own keys win; a typo in it is still located', () => {
    const text = `apiVersion: quench/v1
kind: SLO
metadata: { name: shared-a }
service: svc
objective: 99.9
window: 30d
sli: { raw: { errorRatioQuery: "x" } }
alerting: &alerting
  minEvents: 50
  page: { for: 2m }
---
apiVersion: quench/v1
kind: SLO
metadata: { name: shared-b }
service: svc
objective: 99
window: 30d
sli: { raw: { errorRatioQuery: "x" } }
alerting:
  <<: { minEvents: 50, page: { for: 5m }, ticket: { enabled: false } }
  page: { for: 1m }
  minEvnts: 3
`;
    const parsed = parseYamlSource('m.yaml', text);
    expect(parsed.problems).toEqual([]);
    expect(parsed.documents[1]!.value).toMatchObject({ alerting: { minEvents: 50, page: { for: '1m' }, ticket: { enabled: false } } });
    const dir = mkdtempSync(join(tmpdir(), 'quench-merge-'));
    try {
      writeFileSync(join(dir, 'm.yaml'), text);
      const { problems } = loadSlos([dir]);
      expect(problems.map((p) => `${p.line}:${p.col} ${p.message}`)).toEqual([
        '22:3 alerting.minEvnts: unknown field (check the spelling; docs/slo.md lists the fields)',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a merge cannot get round the alias limit', () => {
    const bomb = `${BOMB}f:\n  <<: *e\n`;
    expect(lines('mb.yaml', bomb)[0]).toMatch(/too many YAML aliases/);
  });
});
