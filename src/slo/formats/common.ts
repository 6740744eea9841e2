import type { z } from 'zod';
import type { Problem } from '../../definitions/problem.js';
import type { SourceDocument } from '../../definitions/source.js';
import { parseDuration } from '../core/duration.js';
import type { SyntheticScript } from '../core/model.js';
import type { SyntheticSpec } from './quench-schema.js';

/** Turns a validated synthetic spec into the core's script. */
export function syntheticScript(spec: SyntheticSpec): SyntheticScript {
  const phases = spec.script
    .map((p) => ({ atMs: p.at === '0' ? 0 : parseDuration(p.at)!, errorRatio: p.errorRatio }))
    .sort((a, b) => a.atMs - b.atMs);
  return {
    requestsPerSecond: spec.requestsPerSecond,
    phases,
    anchor: spec.anchor,
    ...(spec.repeat ? { repeatMs: parseDuration(spec.repeat)! } : {}),
  };
}

/** A readable budget name part from a display name: "Good experience" → "good-experience". */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
}

/** Go-style regex for a histogram `le` value, matching both `0.5` and `0.50`, `1` and `1.0`. */
export function leMatcher(threshold: number): string {
  const text = String(threshold);
  const escaped = text.replace(/\./g, '\\\\.');
  return text.includes('.') ? `${escaped}0*` : `${escaped}(\\\\.0+)?`;
}

/**
 * zod issues as located problems, friendlier than the shared helper for hand-written files: an
 * unknown key is reported at the key itself (a typo's line), and a missing field says so.
 */
export function sloZodProblems(doc: SourceDocument, error: z.ZodError, prefix: PropertyKey[] = []): Problem[] {
  return error.issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    const where = (p: PropertyKey[]) => (p.length > 0 ? `${p.map(String).join('.')}: ` : '');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) =>
        doc.problem([...path, key], `${where([...path, key])}unknown field (check the spelling; docs/slo.md lists the fields)`),
      );
    }
    const missing = issue.code === 'invalid_type' && /received undefined/.test(issue.message);
    return [
      doc.problem(
        path,
        `${where(path)}${missing ? `required (${issue.message.replace(/^Invalid input: /, '').replace(/, received undefined$/, '')})` : issue.message}`,
      ),
    ];
  });
}
