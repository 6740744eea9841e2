import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Tests that start `quench serve` as a child process run the built CLI (bin/quench.js →
 * dist/), exactly as users do. Build once before any test file runs; tsc is incremental, so
 * an up-to-date dist/ costs a second. Type errors do not stop the emit (and `npm test`
 * type-checks before vitest starts), so they are reported here but do not abort the run.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) {
    process.stderr.write(`warning: building dist/ reported errors; child-process tests run the emitted code:\n${result.stdout}${result.stderr}\n`);
  }
}
