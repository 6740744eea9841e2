import type { Command } from '../command.js';
import { sloRulesCommand, sloStatusCommand } from '../../slo/commands.js';
import { dlqInboxListCommand, dlqInboxRetryCommand } from '../../ingest/commands.js';
import { gateCommands } from '../../gate/commands.js';
import { auditVerifyCommand } from './audit.js';
import { completionCommand } from './completion.js';
import { approveCommand, rejectCommand } from './decide.js';
import { dlqCommand, dlqListCommand, dlqRetryCommand } from './dlq.js';
import { migrateCommand } from './migrate.js';
import { runsCommand, runsListCommand, runsShowCommand } from './runs.js';
import { drillCommand, runsCancelCommand, runsStartCommand } from './run-control.js';
import { schemaCommand } from './schema.js';
import { serveCommand } from './serve.js';
import { validateCommand } from './validate.js';
import { reportCommand } from '../../reports/commands.js';
import { ackCommand, reviewsAgreeCommand, reviewsCommand, reviewsDisagreeCommand, reviewsListCommand } from './oncall.js';

/** Every CLI command; `quench --help` lists them in this order. */
export const commands: Command[] = [serveCommand, migrateCommand, validateCommand, schemaCommand, sloStatusCommand, sloRulesCommand, auditVerifyCommand, runsCommand, runsListCommand, runsShowCommand, runsStartCommand, runsCancelCommand, drillCommand, approveCommand, rejectCommand, ackCommand, reviewsCommand, reviewsListCommand, reviewsAgreeCommand, reviewsDisagreeCommand, dlqCommand, dlqListCommand, dlqRetryCommand, dlqInboxListCommand, dlqInboxRetryCommand, ...gateCommands, reportCommand, completionCommand(() => commands)];
