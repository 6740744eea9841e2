/**
 * QUENCH_TEMPLATE_ENV: the operator's allowlist of environment variables playbook templates
 * may read as `env.NAME` (a playbook must also list the name in its own `env`). A denylist of
 * secret-looking names missed `SENTRY_DSN`, `OTEL_EXPORTER_OTLP_HEADERS` and URLs carrying
 * credentials; an allowlist exposes only what the operator chose. Default: nothing.
 */
export function templateEnvironment(allowlist: readonly string[], env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const visible: NodeJS.ProcessEnv = {};
  for (const name of allowlist) if (env[name] !== undefined) visible[name] = env[name];
  return visible;
}
