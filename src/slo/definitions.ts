import type { Problem } from '../definitions/problem.js';
import { listYamlFiles, readYamlFile, type SourceDocument } from '../definitions/source.js';
import type { DefinitionValidator } from '../definitions/validators.js';
import { claimsPlaybook } from '../playbooks/validator.js';
import type { Slo } from './core/model.js';
import { importOpenSlo } from './formats/openslo-import.js';
import { API_VERSION, type BudgetPolicyFields, KIND, SERVICE_POLICY_KIND } from './formats/quench-schema.js';
import { budgetPolicyOf, importQuenchSlo, type KnownPlaybooks } from './formats/quench-import.js';
import { importServicePolicies } from './formats/service-policy.js';
import { importPyrra, isPyrra } from './formats/pyrra-import.js';
import { importSloth, isSlothAlertWindows, isSlothSpec, refuseSlothAlertWindows } from './formats/sloth-import.js';
import { SLOTH_CRD_API_VERSION, SLOTH_CRD_KIND, SLOTH_VERSION } from './formats/sloth-schema.js';
import { PYRRA_API_VERSION } from './formats/pyrra-schema.js';

/**
 * SLO definitions: Quench's own format, OpenSLO, Sloth (plain spec and CRD) and Pyrra, imported
 * into one list of budgets. Both
 * `quench validate` (through the validator) and the evaluator (through `loadSlos`) go through
 * `importSlos`, so what validates is exactly what runs.
 */
const isQuench = (v: { apiVersion?: unknown; kind?: unknown }) => v.apiVersion === API_VERSION && v.kind === KIND;
const isServicePolicy = (v: { apiVersion?: unknown; kind?: unknown }) => v.apiVersion === API_VERSION && v.kind === SERVICE_POLICY_KIND;
const isOpenSlo = (v: { apiVersion?: unknown }) => typeof v.apiVersion === 'string' && v.apiVersion.toLowerCase().startsWith('openslo/');

const isSloth = (v: { apiVersion?: unknown; kind?: unknown; version?: unknown }) =>
  isSlothSpec(v) || (v.apiVersion === SLOTH_CRD_API_VERSION && v.kind === SLOTH_CRD_KIND);

function header(doc: SourceDocument): { apiVersion?: unknown; kind?: unknown; version?: unknown } {
  return doc.value && typeof doc.value === 'object' ? (doc.value as { apiVersion?: unknown; kind?: unknown }) : {};
}

export function importSlos(docs: SourceDocument[], options: { playbooks?: KnownPlaybooks } = {}): { slos: Slo[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const slos: Slo[] = [];
  const policies = importServicePolicies(docs.filter((d) => isServicePolicy(header(d))));
  problems.push(...policies.problems);
  const servicePolicy = (service: string): BudgetPolicyFields | undefined => policies.byService.get(service)?.fields;
  const each = (claims: (v: ReturnType<typeof header>) => boolean, load: typeof importQuenchSlo) => {
    for (const doc of docs.filter((d) => claims(header(d)))) {
      const r = load(doc, servicePolicy, options.playbooks);
      slos.push(...r.slos);
      problems.push(...r.problems);
    }
  };
  each(isQuench, importQuenchSlo);
  each(isSloth, importSloth);
  problems.push(...docs.filter((d) => isSlothAlertWindows(header(d))).map(refuseSlothAlertWindows));
  each(isPyrra, importPyrra);
  const open = importOpenSlo(docs.filter((d) => isOpenSlo(header(d))));
  // OpenSLO has no budget policy of its own: its SLOs take their service's ServicePolicy.
  slos.push(...open.slos.map((s) => (policies.byService.has(s.service) ? { ...s, policy: budgetPolicyOf(undefined, servicePolicy(s.service)) } : s)));
  problems.push(...open.problems);
  problems.push(...policies.unknownServices(new Set(slos.map((s) => s.service))));
  // Names key status, metrics and the API: two budgets with one name would overwrite each other.
  const seen = new Map<string, Slo>();
  const unique: Slo[] = [];
  for (const slo of slos) {
    const first = seen.get(slo.name);
    if (first && first.sli.kind === 'unevaluable' && slo.sli.kind === 'unevaluable') {
      // Two placeholders (OpenSLO `type: Any`, as in the spec's own examples) are never evaluated,
      // so they cannot collide in status or metrics: say so, keep the first.
      problems.push({
        file: slo.origin.file,
        line: slo.origin.line,
        col: slo.origin.col,
        severity: 'warning',
        message: `duplicate SLO name ${slo.name} (first defined at ${first.origin.file}:${first.origin.line}:${first.origin.col}); both are unevaluated placeholders, only the first is listed`,
      });
    } else if (first) {
      problems.push({
        file: slo.origin.file,
        line: slo.origin.line,
        col: slo.origin.col,
        severity: 'error',
        message: `duplicate SLO name ${slo.name} (first defined at ${first.origin.file}:${first.origin.line}:${first.origin.col})`,
      });
    } else {
      seen.set(slo.name, slo);
      unique.push(slo);
    }
  }
  return { slos: unique, problems };
}

export const sloValidator: DefinitionValidator = {
  family: `SLO (quench/v1 SLO and ServicePolicy, openslo/v1, Sloth ${SLOTH_VERSION} and ${SLOTH_CRD_API_VERSION}, ${PYRRA_API_VERSION} ServiceLevelObjective)`,
  claims: (doc) => {
    const h = header(doc);
    return isQuench(h) || isServicePolicy(h) || isOpenSlo(h) || isSloth(h) || isSlothAlertWindows(h) || isPyrra(h);
  },
  // Playbooks validated in the same run are the ones an SLO may name; with none given (only
  // SLO files), the names cannot be checked here (the service warns at load instead).
  validate: (docs, all = []) => {
    const names = all.filter(claimsPlaybook).map((d) => (d.value as { metadata?: { name?: unknown } }).metadata?.name);
    const playbooks: KnownPlaybooks | undefined =
      names.length > 0
        ? { names: new Set(names.filter((n): n is string => typeof n === 'string')), severity: 'error', where: 'among the playbooks given' }
        : undefined;
    return importSlos(docs, playbooks ? { playbooks } : {}).problems;
  },
};

/**
 * Reads every SLO under the given paths (files or folders). Non-SLO documents are ignored.
 * `playbooks`: the names an SLO's `alerting.<tier>.playbook` may take, when known.
 */
export function loadSlos(paths: string[], options: { playbooks?: KnownPlaybooks } = {}): { slos: Slo[]; problems: Problem[] } {
  const parsed = listYamlFiles(paths).map(readYamlFile);
  const docs = parsed.flatMap((f) => f.documents).filter((d) => sloValidator.claims(d));
  const result = importSlos(docs, options);
  return { slos: result.slos, problems: [...parsed.flatMap((f) => f.problems), ...result.problems] };
}
