import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * What an `exec` step may choose about the process it starts. The allowlist
 * (QUENCH_EXEC_ALLOWLIST) names commands; two things could still swap the program behind a
 * name: how the name is resolved, and the environment the program starts with. So the name is
 * resolved here, against the service's own PATH, to an absolute path (never the step's `env`
 * or `cwd`), and the step's environment names must be allowlisted by the operator
 * (QUENCH_EXEC_ENV_ALLOWLIST) and never be one of the names that load code or change
 * resolution (below), whatever the allowlist says.
 */

/** Names that make a program load other code or resolve other binaries. Refused always. */
const UNSAFE_ENV: readonly RegExp[] = [
  /^PATH$/,
  /^LD_/, // LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT
  /^DYLD_/,
  /_OPTIONS$/, // NODE_OPTIONS, JAVA_TOOL_OPTIONS, _JAVA_OPTIONS, SHELLOPTS-like
  /^NODE_/,
  /^(BASH_ENV|ENV|IFS|CDPATH|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|GLOBIGNORE)$/,
  /^BASH_FUNC_/,
  /^(GCONV_PATH|HOSTALIASES|LOCPATH|NLSPATH|RESOLV_HOST_CONF|MALLOC_\w+)$/,
  /^(PYTHON|PERL|RUBY|GEM_|LUA_|TCL|JAVA_|CLASSPATH$|GIT_|SSL_CERT_|CURL_CA_BUNDLE$|HOME$)/,
  /^QUENCH_/, // the service's own settings and the keys the action sets itself
];
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why a step may never set this variable, or undefined when it may (given the operator's allowlist). */
export function unsafeEnvName(name: string): string | undefined {
  if (!NAME.test(name)) return `'${name}' is not a plain variable name (letters, digits, _)`;
  const upper = name.toUpperCase();
  if (UNSAFE_ENV.some((re) => re.test(upper)))
    return `'${name}' changes which program runs or what code it loads; exec steps may not set it`;
  return undefined;
}

/** Operator entries are names, or prefixes ending in `*` (`APP_*`). */
export function envNameAllowed(name: string, allowlist: readonly string[]): boolean {
  return allowlist.some((entry) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry));
}

export type Resolution = { path: string } | { refused: 'relative' | 'not_found' };

/**
 * A bare command name is looked up in `searchPath` (the service's PATH), skipping relative
 * entries (`.`, empty), which would resolve against the step's `cwd`. An absolute path is
 * taken as is (the allowlist must name that exact path); a relative path with a slash is refused.
 */
export function resolveCommand(command: string, searchPath: string): Resolution {
  if (isAbsolute(command)) return { path: command };
  if (command.includes('/') || command.includes('\\') || command === '' || command === '.' || command === '..')
    return { refused: 'relative' };
  for (const dir of searchPath.split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, command);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return { path: candidate };
    } catch {
      // not here; try the next entry
    }
  }
  return { refused: 'not_found' };
}
