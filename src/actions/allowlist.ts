/**
 * Allowlists for the actions that reach outside: hosts for `http.request`, argv prefixes for
 * `exec`. An empty list allows nothing: reaching out is opt-in.
 */

/** `host`, `host:port` or `*.domain` (any subdomain, not the domain itself). */
export function hostAllowed(url: URL, allowlist: readonly string[]): boolean {
  const host = url.hostname.toLowerCase();
  const hostPort = url.host.toLowerCase();
  return allowlist.some((entry) => {
    const e = entry.toLowerCase();
    if (e.startsWith('*.')) return host.endsWith(e.slice(1));
    return e.includes(':') && !e.startsWith('[') ? hostPort === e : host === e;
  });
}

/** Each entry is a command, optionally with leading arguments (`kubectl rollout`), matched word by word. */
export function argvAllowed(argv: readonly string[], allowlist: readonly string[]): boolean {
  return allowlist.some((entry) => {
    const words = entry.trim().split(/\s+/);
    return words.length > 0 && words.every((w, i) => argv[i] === w);
  });
}
