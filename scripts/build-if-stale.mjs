#!/usr/bin/env node
// `npm start` runs this before `quench serve`: it compiles src/ to dist/ only when a source
// (src/**/*.ts, the tsconfigs, package.json) is newer than the last successful build. tsc's
// incremental mode still loads the whole program when nothing changed (3–4 s of CPU, 15 s and
// more on a busy machine); comparing modification times takes milliseconds, so a restart (for
// example with QUENCH_API_TOKENS, as the README's first run asks) starts at once.
// `npm run build` always compiles. QUENCH_BUILD=always forces it here too.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(root, 'dist', '.build-stamp');

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), st.mtimeMs);
}

function builtAt() {
  try {
    return statSync(stamp).mtimeMs;
  } catch {
    return -1;
  }
}

const sources = Math.max(newest(join(root, 'src')), ...['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) => newest(join(root, f))));
if (process.env.QUENCH_BUILD !== 'always' && builtAt() > sources) process.exit(0);

const started = Date.now();
process.stderr.write('quench: compiling src/ to dist/ (only when sources changed)…\n');
const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
writeFileSync(stamp, `${new Date().toISOString()}\n`);
process.stderr.write(`quench: compiled in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
