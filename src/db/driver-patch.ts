import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { QuenchError } from '../core/errors.js';

/**
 * postgres.js 3.4.9 crashes the process (an uncaught TypeError from a timer) or runs a dead
 * transaction's statements outside it when PostgreSQL restarts with queries in flight
 * (porsager/postgres#1154, #1208, #1216). `npm ci` patches it: scripts/patch-postgres.mjs, the
 * root `postinstall` script. An install that skipped scripts (`--ignore-scripts`) would leave
 * the service exposed, so opening PostgreSQL checks the patch is there and refuses otherwise.
 * Remove this check with the script once a postgres.js release carries the fixes.
 */
const MARKER = 'quench-patch(postgres#1154)';

function installedPostgres(): string {
  const entry = createRequire(import.meta.url).resolve('postgres'); // <pkg>/cjs/src/index.js
  return dirname(dirname(dirname(entry)));
}

/** Throws when the postgres package (the one Node resolves, or `pkg` in tests) lacks the patch. */
export function assertPostgresDriverPatched(pkg = installedPostgres()): void {
  const unpatched = ['src/connection.js', 'src/index.js', 'cjs/src/connection.js', 'cjs/src/index.js'].filter(
    (file) => !readFileSync(join(pkg, file), 'utf8').includes(MARKER),
  );
  if (unpatched.length > 0) {
    throw new QuenchError(
      'database_unavailable',
      `the PostgreSQL driver in ${pkg} lacks Quench's patch for porsager/postgres#1154 (${unpatched.join(', ')}): ` +
        'a database restart could crash the service. Run `node scripts/patch-postgres.mjs` (npm ci runs it; do not install with --ignore-scripts)',
    );
  }
}
