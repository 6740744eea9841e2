import { openDatabase } from '../../db/database.js';
import { type Command, cliConfig, parseOptions } from '../command.js';

export const migrateCommand: Command = {
  path: ['migrate'],
  summary: 'apply database migrations and exit',
  help: `Usage: quench migrate

Applies pending migrations from migrations/ as QUENCH_MIGRATION_DATABASE_URL (the schema
owner) when set, else as DATABASE_URL (or to the embedded database in QUENCH_DATA_DIR). Safe
to run while other replicas start: migrations run under an advisory lock. Only the migration
role needs to be set for this command. Exit 0 when the schema is current, 1 on failure.`,
  async run(args, io) {
    parseOptions(args, {});
    const config = cliConfig(io);
    const db = await openDatabase({ url: config.QUENCH_MIGRATION_DATABASE_URL ?? config.DATABASE_URL, dataDir: config.QUENCH_DATA_DIR });
    try {
      const { applied } = await db.migrate();
      io.stdout(`${applied === 0 ? 'schema is up to date' : `applied ${applied} migration(s)`} (${db.kind})\n`);
      return 0;
    } finally {
      await db.close();
    }
  },
};
