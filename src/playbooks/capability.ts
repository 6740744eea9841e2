import { formatProblem, hasErrors } from '../definitions/problem.js';
import type { Capability } from '../service.js';
import { auditPlaybookChanges } from './audit.js';
import { knownActions } from './catalog.js';
import type { ActionCatalog } from './core/catalog.js';
import { loadPlaybooks, loadPlaybooksStrict } from './loader.js';
import { PlaybookStore } from './store.js';

/** How often QUENCH_PLAYBOOK_DIR is re-read; an edit takes effect for new runs within this time. */
export const RELOAD_INTERVAL_MS = 30_000;

/**
 * Loads QUENCH_PLAYBOOK_DIR into `ports.playbooks` when the service is assembled (ingest routes
 * on it from its first event), strictly: an invalid playbook stops start-up with every problem
 * listed. Then re-reads the folder periodically; a valid new set replaces the current one (runs
 * already started keep their pinned snapshot), an invalid one is logged and ignored. Every
 * load and change is audited with the content hashes.
 */
export const playbooksCapability: Capability = async (ctx) => {
  const dir = ctx.config.QUENCH_PLAYBOOK_DIR;
  const catalog = layered(ctx.ports.engine.actions, knownActions());
  const store = new PlaybookStore();
  const initial = store.replace(loadPlaybooksStrict([dir], catalog));
  ctx.ports.playbooks = store;
  ctx.logger.info({ dir, playbooks: store.list().map((p) => ({ name: p.name, hash: p.hash })) }, 'playbooks loaded');
  // Only QUENCH_TEMPLATE_ENV reaches templates (src/config/template-env.ts): say which listed names stay hidden.
  const hidden = store
    .list()
    .flatMap((p) => (p.definition.env ?? []).filter((name) => !ctx.config.QUENCH_TEMPLATE_ENV.includes(name)).map((name) => `${p.name}: ${name}`));
  if (hidden.length > 0) ctx.logger.warn({ hidden }, 'playbooks list env variables that QUENCH_TEMPLATE_ENV does not allow; their templates see them as absent');
  let timer: NodeJS.Timeout | undefined;
  let lastProblems = '';

  const reload = async () => {
    const { playbooks, problems } = loadPlaybooks([dir], catalog);
    if (hasErrors(problems)) {
      const text = problems.map(formatProblem).join('\n');
      // Say it once per distinct set of problems, not every interval.
      if (text !== lastProblems)
        ctx.logger.error({ dir, problems: problems.map(formatProblem) }, 'playbooks not reloaded: fix the problems (quench validate)');
      lastProblems = text;
      return;
    }
    lastProblems = '';
    const changes = store.replace(playbooks);
    if (changes.length === 0) return;
    ctx.logger.info({ changes }, 'playbooks reloaded');
    await auditPlaybookChanges(ctx.audit, changes);
  };

  const component = {
    name: 'playbooks',
    /** Re-reads the folder now (the timer calls it; so can a signal handler or a test). */
    reload,
    async start() {
      await auditPlaybookChanges(ctx.audit, initial, { initial: true });
      timer = setInterval(() => {
        reload().catch((err) => ctx.logger.error({ err }, 'playbook reload failed'));
      }, RELOAD_INTERVAL_MS);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
    },
  };
  return component;
};

/**
 * The engine's live registry first, then the actions capabilities register when they start
 * (PagerDuty, Slack, gate): playbooks load before those capabilities have started.
 */
function layered(live: ActionCatalog, known: ActionCatalog): ActionCatalog {
  return {
    get: (name) => live.get(name) ?? known.get(name),
    names: () => [...new Set([...live.names(), ...known.names()])].sort(),
  };
}
