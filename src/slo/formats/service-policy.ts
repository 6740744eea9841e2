import type { Problem } from '../../definitions/problem.js';
import type { SourceDocument } from '../../definitions/source.js';
import { sloZodProblems } from './common.js';
import { type BudgetPolicyFields, servicePolicySchema } from './quench-schema.js';

interface ServicePolicy {
  fields: BudgetPolicyFields;
  doc: SourceDocument;
}

/**
 * `kind: ServicePolicy` documents: one per service at most (two would leave it to file order
 * which one wins), and only for a service some SLO names (a typo would silently apply nothing).
 */
export function importServicePolicies(docs: SourceDocument[]): {
  byService: ReadonlyMap<string, ServicePolicy>;
  problems: Problem[];
  unknownServices: (known: ReadonlySet<string>) => Problem[];
} {
  const byService = new Map<string, ServicePolicy>();
  const problems: Problem[] = [];
  for (const doc of docs) {
    const parsed = servicePolicySchema.safeParse(doc.value);
    if (!parsed.success) {
      problems.push(...sloZodProblems(doc, parsed.error));
      continue;
    }
    const first = byService.get(parsed.data.service);
    if (first) {
      const at = first.doc.positionOf(['service']);
      problems.push(
        doc.problem(
          ['service'],
          `conflicting ServicePolicy for service ${parsed.data.service} (first defined at ${first.doc.file}:${at.line}:${at.col}): merge them into one document`,
        ),
      );
      continue;
    }
    byService.set(parsed.data.service, { fields: parsed.data.budgetPolicy, doc });
  }
  const unknownServices = (known: ReadonlySet<string>) =>
    [...byService.entries()]
      .filter(([service]) => !known.has(service))
      .map(([service, p]) =>
        p.doc.problem(
          ['service'],
          `unknown service '${service}': no SLO names it${known.size > 0 ? ` (services: ${[...known].sort().slice(0, 30).join(', ')})` : ''}; fix the name or remove this ServicePolicy`,
        ),
      );
  return { byService, problems, unknownServices };
}
