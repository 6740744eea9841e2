#!/usr/bin/env node
// Runs every bench/*.bench.mjs (or those named on the command line) against the built dist/,
// prints each result and writes bench/results/summary.json. Each bench module exports
// `default async function (ctx) => result`, where result holds absolute figures and ratios
// against a baseline measured in the same run. See docs/benchmarks.md.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const ctx = {
  databaseUrl: process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
  log: (...args) => console.error('  ', ...args),
};

const summary = { startedAt: new Date().toISOString(), node: process.version, results: {} };
let failed = 0;
for (const file of files) {
  const name = file.replace(/\.bench\.mjs$/, '');
  console.error(`== ${name}`);
  try {
    const { default: bench } = await import(new URL(file, import.meta.url).href);
    const result = await bench(ctx);
    summary.results[name] = result;
    console.log(`${name}: ${JSON.stringify(result, null, 2)}`);
  } catch (err) {
    failed++;
    summary.results[name] = { error: String(err?.stack ?? err) };
    console.error(`${name} failed:`, err);
  }
}
mkdirSync(new URL('results/', import.meta.url), { recursive: true });
const out = fileURLToPath(new URL('results/summary.json', import.meta.url));
writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
console.error(`summary written to ${out}`);
process.exit(failed ? 1 : 0);
