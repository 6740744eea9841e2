import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { type Alias, type Document, isCollection, isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments, visit } from 'yaml';
import type { z } from 'zod';
import type { Problem } from './problem.js';

/**
 * YAML definition files with source positions. Every document of a file (`---`-separated, or
 * the items of a top-level list) becomes a `SourceDocument` that can say where any path in it
 * came from, so validation errors read `file:line:col`.
 */
export interface SourceDocument {
  file: string;
  /** The plain JavaScript value of the document (or list item). */
  value: unknown;
  /** Line and column (1-based) of the node at `path`, or of its nearest existing ancestor. */
  positionOf(path: ReadonlyArray<PropertyKey>): { line: number; col: number };
  /** A problem located at `path`. */
  problem(path: ReadonlyArray<PropertyKey>, message: string, severity?: Problem['severity']): Problem;
}

export interface ParsedFile {
  file: string;
  documents: SourceDocument[];
  /** YAML syntax errors; when present, `documents` holds only the documents that parsed. */
  problems: Problem[];
}

/** Alias expansions one document may make; more is an alias bomb ("billion laughs"), not a definition. */
export const MAX_ALIAS_COUNT = 100;

/**
 * Never throws: whatever one file or document gets wrong (syntax, an alias bomb, an alias
 * without its anchor, anything the YAML library refuses while building the value) is a
 * problem of that file, so the other files and documents are still validated and reported.
 */
export function parseYamlSource(file: string, text: string): ParsedFile {
  const lineCounter = new LineCounter();
  // A byte-order mark is not content: without this, every column of line 1 is off by one.
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    // Merge keys (`<<: *defaults`) are YAML 1.1, but Go's yaml (oslo, Sloth, kubectl) reads them
    // in every file, and users share alerting and labels between SLOs with them.
    docs = parseAllDocuments(source, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  } catch (err) {
    return { file, documents: [], problems: [{ file, line: 1, col: 1, severity: 'error', message: `YAML: ${firstLine(err)}` }] };
  }
  const problems: Problem[] = [];
  const documents: SourceDocument[] = [];
  const pos = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list as Document.Parsed[]) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const at = pos(e.pos[0]);
        problems.push({ file, ...at, severity: 'error', message: `YAML syntax: ${e.message.split('\n')[0]}` });
      }
      continue;
    }
    if (isEmpty(doc)) continue; // an empty document, e.g. a trailing `---`
    const make = (prefix: PropertyKey[], value: unknown): SourceDocument => {
      const positionOf = (path: ReadonlyArray<PropertyKey>) => {
        const full = [...prefix, ...path];
        for (let n = full.length; n >= 0; n--) {
          const node = n === 0 ? doc.contents : doc.getIn(full.slice(0, n) as unknown[], true);
          const range = (node as { range?: [number, number, number] } | undefined)?.range;
          if (range) return pos(keyOffset(doc, full.slice(0, n)) ?? range[0]);
        }
        return { line: 1, col: 1 };
      };
      return {
        file,
        value,
        positionOf,
        problem: (path, message, severity = 'error') => ({ file, ...positionOf(path), message, severity }),
      };
    };
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      problems.push(valueProblem(file, doc, err, pos));
      continue;
    }
    if (isSeq(doc.contents) && Array.isArray(value)) {
      value.forEach((item, i) => {
        documents.push(make([i], item));
      });
    } else documents.push(make([], value));
  }
  if (documents.length === 0 && problems.length === 0) {
    problems.push({ file, line: 1, col: 1, severity: 'warning', message: 'no YAML document in this file (empty or only comments): nothing to validate' });
  }
  return { file, documents, problems };
}

/** No content at all: `doc.contents` null, or the implicit null of a bare `---`. */
function isEmpty(doc: Document.Parsed): boolean {
  const c = doc.contents;
  if (c === null) return true;
  return isScalar(c) && c.value === null && (c as { source?: unknown }).source === '' && !c.tag && !c.anchor;
}

/**
 * The YAML library throws, rather than reports, when turning a document into a value fails:
 * too many alias expansions, or an alias whose anchor is not defined before it. Locate the
 * alias at fault where it can be found, else the document.
 */
function valueProblem(
  file: string,
  doc: Document.Parsed,
  err: unknown,
  pos: (offset: number) => { line: number; col: number },
): Problem {
  const text = firstLine(err);
  const aliases: Alias[] = [];
  const anchored = new Map<string, Node>();
  visit(doc, {
    Alias: (_key, node) => {
      aliases.push(node);
    },
    Node: (_key, node) => {
      if (node.anchor && !anchored.has(node.anchor)) anchored.set(node.anchor, node);
    },
  });
  const at = (node: Node | undefined) => pos(node?.range?.[0] ?? doc.contents?.range?.[0] ?? doc.range[0]);
  if (/excessive alias count/i.test(text)) {
    // The expansion grows where an alias points at a node that itself holds aliases.
    const nested = aliases.find((a) => {
      const target = anchored.get(a.source);
      let inner = false;
      if (target && isCollection(target))
        visit(target, {
          Alias: () => {
            inner = true;
            return visit.BREAK;
          },
        });
      return inner;
    });
    return {
      file,
      ...at(nested ?? aliases[0]),
      severity: 'error',
      message: `too many YAML aliases (more than ${MAX_ALIAS_COUNT} expansions): expand them or reduce repetition`,
    };
  }
  const unresolved = /^Unresolved alias.*: (.+)$/.exec(text)?.[1];
  if (unresolved !== undefined) {
    return {
      file,
      ...at(aliases.find((a) => a.source === unresolved)),
      severity: 'error',
      message: `YAML alias *${unresolved} has no anchor &${unresolved} before it in this document: define the anchor first (anchors do not cross ---)`,
    };
  }
  return { file, ...at(undefined), severity: 'error', message: `YAML: ${text}` };
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

/** For a mapping entry, point at its key (where a reader looks), not at its value. */
function keyOffset(doc: Document.Parsed, path: PropertyKey[]): number | undefined {
  if (path.length === 0) return undefined;
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1) as unknown[], true);
  if (!isMap(parent)) return undefined;
  const last = path[path.length - 1];
  const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === last);
  return (pair?.key as { range?: [number, number, number] } | undefined)?.range?.[0];
}

export function readYamlFile(file: string): ParsedFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return {
      file,
      documents: [],
      problems: [{ file, line: 1, col: 1, severity: 'error', message: `cannot read: ${(err as Error).message}` }],
    };
  }
  return parseYamlSource(file, text);
}

/** `*.yaml` / `*.yml` files under each path (files are taken as given), sorted for stable output. */
export function listYamlFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isFile()) out.push(path);
    else if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) {
        const child = join(path, entry);
        // A dangling symlink has no stat: as a YAML name it is listed, and reading it says why it fails.
        if (statSync(child, { throwIfNoEntry: false })?.isDirectory()) walk(child);
        else if (['.yaml', '.yml'].includes(extname(entry))) out.push(child);
      }
    }
  };
  paths.forEach(walk);
  return out;
}

/** zod issues as located problems: one per issue, at the failing field. */
export function zodProblems(doc: SourceDocument, error: z.ZodError, pathPrefix: PropertyKey[] = []): Problem[] {
  return error.issues.map((issue) => {
    const path = [...pathPrefix, ...issue.path];
    const where = path.length > 0 ? `${path.map(String).join('.')}: ` : '';
    return doc.problem(path, `${where}${issue.message}`);
  });
}
