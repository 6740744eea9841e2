import { Gauge } from 'prom-client';
import { auditCapability, auditReadiness } from './audit/capability.js';
import { type AuditTrail, createAuditTrail } from './audit/trail.js';
import { chatCapability } from './chat/capability.js';
import { createHumanStepGate, type HumanStepGate, withHumanStepGate } from './chat/gate.js';
import { type ChatPort, noChat } from './chat/port.js';
import type { Config } from './config/load.js';
import { templateEnvironment } from './config/template-env.js';
import { type Clock, systemClock } from './core/clock.js';
import { type Database, openDatabase } from './db/database.js';
import { alwaysLeader, type LeaderPort, leaderComponent } from './db/leader.js';
import { gateCapability } from './gate/capability.js';
import type { DeployGate } from './gate/gate.js';
import type { SloStatus } from './slo/core/status.js';
import { engineCapability } from './engine/capability.js';
import { createEngine, type Engine } from './engine/engine.js';
import { ingestCapability } from './ingest/capability.js';
import { TokenAuthenticator } from './http/auth.js';
import { addHealthRoutes } from './http/health-routes.js';
import { addSchemaRoutes } from './playbooks/schema-routes.js';
import { addOpenApiRoute } from './http/openapi.js';
import { Router } from './http/router.js';
import { playbooksCapability } from './playbooks/capability.js';
import { runsCapability } from './runs/capability.js';
import { reportsCapability } from './reports/capability.js';
import { drillsCapability } from './drills/capability.js';
import type { PlaybookStore } from './playbooks/store.js';
import { sloCapability } from './slo/capability.js';
import { idleSloPort, type SloPort } from './slo/port.js';
import { createHttpServer, type HttpServer } from './http/server.js';
import type { Logger } from './telemetry/logger.js';
import type { TriggerSink } from './triggers/sink.js';
import { createMetrics, type Metrics } from './telemetry/metrics.js';

/**
 * The composition root: the only place that knows every capability. Each capability gets the
 * shared context, adds its routes, and may return a component with a lifecycle (workers,
 * schedulers) that starts after migrations and stops before the database closes.
 */
export interface ServiceContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly db: Database;
  readonly audit: AuditTrail;
  readonly router: Router;
  readonly auth: TokenAuthenticator;
  /**
   * Ports one capability offers the others, filled in capability start order. A capability
   * reads another's port at call time (not at install time), so the order only matters for
   * start-up work.
   */
  readonly ports: Ports;
}

export interface Ports {
  /** Durable playbook runs: start, signal, decide, cancel, query (src/engine/ARCHITECTURE.md). */
  engine: Engine;
  /** Trigger events (SLO burns, webhooks) go here; ingest/ replaces the default with routing. */
  triggers: TriggerSink;
  /** The loaded playbooks (current version per name); set by playbooks/capability.ts, before ingest/ routes on them. */
  playbooks?: PlaybookStore;
  /** Latest SLO status per budget (slo.check, deploy gate, reports); idle until the evaluator starts. */
  slo: SloPort;
  /** Messages to people (Slack, or `noChat` when Slack is off); reports post through it. */
  chat: ChatPort;
  /** The authorisation every human-step decision passes (assignees, own run, four-eyes); set by chat/. */
  humanSteps?: HumanStepGate;
  /** Whether this replica leads (runs the SLO evaluator and the gate's policy): src/db/leader.ts. */
  leader: LeaderPort;
  /** Called with every SLO status after each evaluation cycle (the deploy gate stores them). */
  sloObservers: Array<(statuses: SloStatus[]) => Promise<void>>;
  /** The deploy gate (src/gate): freezes, overrides, answers. */
  gate?: DeployGate;
  /** The statuses the leader stored after its last cycle (src/gate): what a follower reports. */
  sloStored?: () => readonly SloStatus[];
}

export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export type Capability = (ctx: ServiceContext) => Component | undefined | Promise<Component | undefined>;

/** Capabilities in start order; they stop in reverse. */
const capabilities: Capability[] = [leaderCapability, auditCapability, engineCapability, playbooksCapability, ingestCapability, gateCapability, sloCapability, chatCapability, runsCapability, drillsCapability, reportsCapability];

export interface RunningService {
  readonly ctx: ServiceContext;
  readonly port: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  clock?: Clock;
  /** Overrides config.PORT (tests pass 0 for a free port). */
  port?: number;
  host?: string;
}

/** Opens storage (context only, no HTTP): what CLI commands build on. */
export async function openContext(config: Config, logger: Logger, clock: Clock = systemClock): Promise<ServiceContext> {
  const db = await openDatabase({ url: config.DATABASE_URL, dataDir: config.QUENCH_DATA_DIR, poolMax: config.DATABASE_POOL_MAX, prepare: config.DATABASE_PREPARE, migrationUrl: config.QUENCH_MIGRATION_DATABASE_URL });
  try {
    const { applied } = await db.migrate();
    if (applied > 0) logger.info({ applied, database: db.kind }, 'migrations applied');
  } catch (err) {
    await db.close();
    throw err;
  }
  const metrics = createMetrics();
  const audit = createAuditTrail(db, clock, { key: config.QUENCH_AUDIT_KEY });
  const ports = { triggers: auditOnlyTriggerSink(logger) } as Ports;
  ports.slo = idleSloPort;
  ports.chat = noChat;
  ports.leader = alwaysLeader();
  ports.sloObservers = [];
  ports.engine = createEngine({
    db,
    audit,
    clock,
    logger,
    config,
    registry: metrics.registry,
    ports: () => ports as unknown as Record<string, unknown>,
    options: { leaseMs: config.QUENCH_ENGINE_LEASE_MS, concurrency: config.QUENCH_ENGINE_CONCURRENCY, pollMs: config.QUENCH_ENGINE_POLL_MS },
    // Templates see only the variables the operator allowlists, never the service's secrets.
    env: templateEnvironment(config.QUENCH_TEMPLATE_ENV, process.env),
  });
  // Assignee checks for every decision path (Slack, CLI, /v1): src/chat/gate.ts.
  ports.humanSteps = createHumanStepGate({ db, audit });
  ports.engine = withHumanStepGate(ports.engine, ports.humanSteps);
  return {
    config,
    logger,
    clock,
    db,
    metrics,
    audit,
    router: new Router(),
    auth: new TokenAuthenticator(config.QUENCH_API_TOKENS),
    ports,
  };
}

export async function startService(config: Config, options: StartOptions): Promise<RunningService> {
  const ctx = await openContext(config, options.logger, options.clock);
  let stopping = false;
  const components: Component[] = [];
  let http: HttpServer | undefined;

  const stop = async () => {
    stopping = true;
    await http?.close();
    for (const component of [...components].reverse()) {
      await component.stop().catch((err) => ctx.logger.error({ err, component: component.name }, 'component stop failed'));
    }
    await ctx.db.close();
  };

  try {
    addHealthRoutes(ctx.router, { db: ctx.db, metrics: ctx.metrics, isStopping: () => stopping, checks: [auditReadiness(ctx.audit)] });
    addSchemaRoutes(ctx.router);
    // Generated on first request, so it covers the routes capabilities add below.
    addOpenApiRoute(ctx.router);
    for (const capability of capabilities) {
      const component = await capability(ctx);
      if (component) {
        await component.start();
        components.push(component);
      }
    }
    const host = listenHost(ctx, options.host);
    http = createHttpServer({ router: ctx.router, auth: ctx.auth, logger: ctx.logger, metrics: ctx.metrics });
    const port = await http.listen(options.port ?? config.PORT, host);
    return { ctx, port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Without API tokens, `/v1` reads (trigger payloads, exec output, decisions) would be open to
 * anyone who can reach the port, so the server then listens on the loopback interface only.
 * With tokens every `/v1` route needs one, and it listens on every interface.
 */
function listenHost(ctx: ServiceContext, requested: string | undefined): string | undefined {
  const wanted = requested ?? ctx.config.QUENCH_LISTEN_HOST;
  if (ctx.auth.configured) return wanted;
  const loopback = wanted !== undefined && /^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(wanted);
  const host = loopback ? wanted : '127.0.0.1';
  if (wanted !== undefined && !loopback) ctx.logger.warn({ wanted }, `QUENCH_LISTEN_HOST=${wanted} ignored: without QUENCH_API_TOKENS only loopback is served`);
  ctx.logger.warn(
    { host },
    `QUENCH_API_TOKENS is unset: listening on ${host} only, /v1 reads are open to local callers and /v1 writes are refused; set QUENCH_API_TOKENS to serve other hosts`,
  );
  return host;
}

/** One leader per database (src/db/leader.ts); first in start order, last to stop. */
function leaderCapability(ctx: ServiceContext): Component {
  const election = leaderComponent({ url: ctx.config.DATABASE_URL, leaseMs: ctx.config.QUENCH_LEADER_LEASE_MS, logger: ctx.logger });
  ctx.ports.leader = election.port;
  // Per replica; sum() over replicas is the number of leaders (docs/operations.md: QuenchNoLeader).
  new Gauge({
    name: 'quench_leader',
    help: '1 while this replica leads (runs the SLO evaluator and the deploy-gate policy), else 0.',
    registers: [ctx.metrics.registry],
    collect() {
      this.set(ctx.ports.leader.isLeader() ? 1 : 0);
    },
  });
  return { name: 'leader-election', start: election.start, stop: election.stop };
}

/** Until ingest/ installs routing, trigger events are only logged. */
function auditOnlyTriggerSink(logger: Logger): TriggerSink {
  return {
    emit: async (event) => {
      logger.info({ source: event.source, type: event.type, key: event.key }, 'trigger event (no router installed)');
    },
  };
}
