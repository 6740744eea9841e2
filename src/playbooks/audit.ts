import type { AuditTrail } from '../audit/trail.js';
import type { PlaybookChange } from './store.js';

/**
 * Loading a changed playbook is audited: one entry per added, changed or removed playbook, and
 * at start-up one `playbook.loaded` per playbook, so the trail says which version each
 * process ran.
 */
export async function auditPlaybookChanges(
  audit: AuditTrail,
  changes: PlaybookChange[],
  options: { initial?: boolean } = {},
): Promise<void> {
  for (const c of changes) {
    await audit.append({
      actor: { type: 'system', id: 'playbooks' },
      action: options.initial ? 'playbook.loaded' : `playbook.${c.change}`,
      subject: { type: 'playbook', id: c.name },
      data: { hash: c.hash ?? null, previousHash: c.previousHash ?? null, file: c.file ?? null },
    });
  }
}
