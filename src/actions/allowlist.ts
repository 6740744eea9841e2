import { canonicalAddress, classifyAddress } from './addresses.js';

/**
 * Allowlists for the actions that reach outside: hosts for `http.request`, argv prefixes for
 * `exec`. An empty list allows nothing: reaching out is opt-in.
 *
 * Host entries: `host` (its default ports only: 80 and 443), `host:port`, `host:*` (any port),
 * `*.domain` (any subdomain, not the domain itself; ports as for a bare host), IPv6 as
 * `[::1]`, `[::1]:8080`. A name passing the list is not enough on its own: the address it
 * resolves to must be public, or be named by an entry itself (`127.0.0.1:8080`), see
 * `addressAllowed`.
 */

interface HostEntry {
  host: string;
  port: number | 'any' | 'default';
}

const DEFAULT_PORTS = new Set([80, 443]);

export function parseHostEntry(entry: string): HostEntry {
  const e = entry.trim().toLowerCase();
  const bracket = /^(\[[^\]]+\])(?::(\d+|\*))?$/.exec(e);
  const [host, port] = bracket ? [bracket[1]!, bracket[2]] : e.split(':', 2);
  const ip = canonicalAddress(host ?? '');
  return {
    host: ip ?? host ?? '',
    port: port === undefined ? 'default' : port === '*' ? 'any' : Number(port),
  };
}

/** The port a URL connects to: its explicit port or its scheme's default. */
export function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

function portMatches(entry: HostEntry, port: number): boolean {
  return entry.port === 'any' || (entry.port === 'default' ? DEFAULT_PORTS.has(port) : entry.port === port);
}

/** Whether the URL's host name and port pass the list (the address is checked when connecting). */
export function hostAllowed(url: URL, allowlist: readonly string[]): boolean {
  const host = canonicalAddress(url.hostname) ?? url.hostname.toLowerCase();
  const port = portOf(url);
  return allowlist.some((raw) => {
    const entry = parseHostEntry(raw);
    if (!portMatches(entry, port)) return false;
    if (entry.host.startsWith('*.')) return host.endsWith(entry.host.slice(1));
    return host === entry.host;
  });
}

/**
 * Whether `http.request` may connect to this address on this port: any public address, and a
 * loopback, private, link-local, shared, unique-local or unspecified one only when an entry
 * names that address (`127.0.0.1:8080`, `[::1]:*`, `10.0.0.5`).
 */
export function addressAllowed(address: string, port: number, allowlist: readonly string[]): boolean {
  if (classifyAddress(address) === 'public') return true;
  const ip = canonicalAddress(address);
  if (!ip) return false;
  return allowlist.some((raw) => {
    const entry = parseHostEntry(raw);
    return entry.host === ip && portMatches(entry, port);
  });
}

/** Each entry is a command, optionally with leading arguments (`kubectl rollout`), matched word by word. */
export function argvAllowed(argv: readonly string[], allowlist: readonly string[]): boolean {
  return allowlist.some((entry) => {
    const words = entry.trim().split(/\s+/);
    return words.length > 0 && words.every((w, i) => argv[i] === w);
  });
}
