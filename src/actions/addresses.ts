import { isIP } from 'node:net';

/**
 * Which network an IP address belongs to, for `http.request`: a name on the allowlist must not
 * lead to the service's own loopback, the cloud metadata service (169.254.169.254) or the
 * private network behind it unless the operator names that address. IPv6 forms that embed an
 * IPv4 address (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, compatible
 * `::a.b.c.d`) are judged by the embedded address.
 */
export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'shared' // CGNAT 100.64.0.0/10
  | 'link-local'
  | 'unique-local'
  | 'multicast'
  | 'reserved';

const V4_RANGES: ReadonlyArray<[number, number, AddressClass]> = [
  [0x00000000, 8, 'unspecified'],
  [0x0a000000, 8, 'private'],
  [0x64400000, 10, 'shared'],
  [0x7f000000, 8, 'loopback'],
  [0xa9fe0000, 16, 'link-local'],
  [0xac100000, 12, 'private'],
  [0xc0000000, 24, 'reserved'],
  [0xc0a80000, 16, 'private'],
  [0xc6120000, 15, 'reserved'],
  [0xe0000000, 4, 'multicast'],
  [0xf0000000, 4, 'reserved'],
];

export function classifyAddress(address: string): AddressClass {
  const v4 = ipv4Of(address);
  if (v4 !== undefined) return classifyV4(v4);
  const groups = ipv6Groups(address);
  if (!groups) return 'reserved'; // not an address we understand: never "public"
  const embedded = embeddedV4(groups);
  if (embedded !== undefined) return classifyV4(embedded);
  if (groups.every((g) => g === 0)) return 'unspecified';
  if (groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1) return 'loopback';
  const first = groups[0]!;
  if ((first & 0xfe00) === 0xfc00) return 'unique-local';
  if ((first & 0xffc0) === 0xfe80 || (first & 0xffc0) === 0xfec0) return 'link-local';
  if ((first & 0xff00) === 0xff00) return 'multicast';
  return 'public';
}

/** The IPv4 address as an unsigned 32-bit number, for v4 text or v6 text that embeds one; else undefined. */
export function ipv4Of(address: string): number | undefined {
  if (isIP(address) === 4) return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
  const groups = ipv6Groups(address);
  return groups ? embeddedV4(groups) : undefined;
}

/** One spelling per address: `127.0.0.1` for every IPv6 form embedding it, compressed lower-case IPv6 otherwise. */
export function canonicalAddress(address: string): string | undefined {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIP(bare) === 0) return undefined;
  const v4 = ipv4Of(bare);
  if (v4 !== undefined) return [24, 16, 8, 0].map((s) => (v4 >>> s) & 255).join('.');
  return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
}

function classifyV4(n: number): AddressClass {
  for (const [base, bits, cls] of V4_RANGES) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((n & mask) >>> 0 === base) return cls;
  }
  return 'public';
}

function embeddedV4(g: number[]): number | undefined {
  const tail = ((g[6]! << 16) | g[7]!) >>> 0;
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && g[5] === 0xffff) return tail; // ::ffff:a.b.c.d (mapped)
  if (zero(0, 6) && tail > 1) return tail; // ::a.b.c.d (compatible, deprecated)
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return tail; // 64:ff9b::/96 (NAT64)
  if (g[0] === 0x2002) return ((g[1]! << 16) | g[2]!) >>> 0; // 2002::/16 (6to4)
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  const bare = (address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address).split('%')[0]!;
  if (isIP(bare) !== 6) return undefined;
  // The URL parser expands and validates; its output is compressed hex without an IPv4 tail.
  const text = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  const groups = [...left, ...fill, ...right].map((h) => Number.parseInt(h, 16));
  return groups.length === 8 && groups.every((n) => Number.isInteger(n)) ? groups : undefined;
}
