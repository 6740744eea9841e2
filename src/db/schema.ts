/**
 * The whole database schema, for drizzle-kit and the typed query builder. Each capability
 * owns its tables in its own `schema.ts`; this file only gathers them.
 */
export * from '../audit/schema.js';
export * from '../ingest/schema.js';
export * from '../slo/schema.js';
export * from '../engine/schema.js';
export * from '../chat/schema.js';
export * from '../gate/schema.js';
export * from '../drills/schema.js';
export * from '../reports/schema.js';
