import type { AuditTrail } from '../audit/trail.js';
import type { PlaybookChange } from './store.js';

/** Loading a changed playbook is audited: one entry per added, changed or removed playbook. */
export async function auditPlaybookChanges(audit: AuditTrail, changes: PlaybookChange[]): Promise<void> {
  for (const c of changes) {
    await audit.append({
      actor: { type: 'system', id: 'playbooks' },
      action: `playbook.${c.change}`,
      subject: { type: 'playbook', id: c.name },
      data: { hash: c.hash ?? null, previousHash: c.previousHash ?? null, file: c.file ?? null },
    });
  }
}
