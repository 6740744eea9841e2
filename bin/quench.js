#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/ (built by `npm run build`, or by `npm start`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('quench: dist/ is missing. Run `npm run build` (or `npm start`) first.\n');
  process.exit(2);
}
const { main } = await import(entry.href);
await main();
