import { describeConfig } from '../../config/load.js';
import { installProcessGuards } from '../../http/process-guards.js';
import { startService } from '../../service.js';
import { createLogger } from '../../telemetry/logger.js';
import { type Command, cliConfig, parseOptions } from '../command.js';

const SHUTDOWN_LIMIT_MS = 9_500;

export const serveCommand: Command = {
  path: ['serve'],
  summary: 'run the service: HTTP server, SLO evaluator, workflow workers, cron jobs, Slack app',
  help: `Usage: quench serve

Runs the service until SIGTERM or SIGINT. Configuration comes from the environment (see the
README); an invalid configuration stops start-up with every bad variable listed.
On SIGTERM it stops accepting connections, finishes in-flight requests, stops workers,
closes the database and exits 0 within 10 seconds.`,
  async run(args, io) {
    parseOptions(args, {});
    const config = cliConfig(io);
    const logger = createLogger(config.LOG_LEVEL);
    logger.info({ config: describeConfig(config) }, 'starting');
    // Installed before anything runs: no single request's error may ever stop the service.
    installProcessGuards(logger);
    const service = await startService(config, { logger });
    logger.info({ port: service.port, database: service.ctx.db.kind }, `listening on :${service.port}`);

    return new Promise<number>((resolve) => {
      let signalled = false;
      const shutdown = (signal: string) => {
        if (signalled) return;
        signalled = true;
        logger.info({ signal }, 'shutting down');
        const force = setTimeout(() => {
          logger.warn('shutdown took too long; exiting with work still in flight');
          resolve(0);
        }, SHUTDOWN_LIMIT_MS);
        force.unref();
        service
          .stop()
          .then(() => {
            clearTimeout(force);
            logger.info('stopped');
            resolve(0);
          })
          .catch((err) => {
            logger.error({ err }, 'shutdown failed');
            resolve(1);
          });
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });
  },
};
