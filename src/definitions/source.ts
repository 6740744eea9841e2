import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { type Document, isMap, isSeq, LineCounter, parseAllDocuments } from 'yaml';
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

export function parseYamlSource(file: string, text: string): ParsedFile {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
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
    if (doc.contents === null) continue; // an empty document, e.g. a trailing `---`
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
    const value = doc.toJS({ maxAliasCount: 100 });
    if (isSeq(doc.contents) && Array.isArray(value)) {
      value.forEach((item, i) => {
        documents.push(make([i], item));
      });
    } else documents.push(make([], value));
  }
  return { file, documents, problems };
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
        if (statSync(child).isDirectory()) walk(child);
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
