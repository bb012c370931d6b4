import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is the IPv4 address it carries. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** Parses `10.0.0.0/8, 2001:db8::/32, 192.0.2.7`; throws naming the first entry that is not an address or CIDR. */
export function parseCidrs(list: string | readonly string[]): string[] {
  const items = typeof list === 'string' ? list.split(',') : [...list];
  const out: string[] = [];
  for (const raw of items) {
    const cidr = raw.trim();
    if (!cidr) continue;
    const [ip, bits, extra] = cidr.split('/');
    const max = isIPv4(ip) ? 32 : isIPv6(ip) ? 128 : -1;
    const n = bits === undefined ? max : Number(bits);
    if (max < 0 || extra !== undefined || !Number.isInteger(n) || n < 0 || n > max)
      throw new Error(`"${cidr}" is not an IP address or CIDR`);
    out.push(cidr);
  }
  return out;
}

/** A matcher for a CIDR list (IPv4 and IPv6); undefined when the list is empty (no restriction). */
export function addressMatcher(cidrs: readonly string[]): ((address: string) => boolean) | undefined {
  if (cidrs.length === 0) return undefined;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [ip, bits] = cidr.split('/');
    if (!isIPv4(ip) && !isIPv6(ip)) continue;
    const type = isIPv6(ip) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip, type);
    else list.addSubnet(ip, Number(bits), type);
  }
  return (address) => {
    const plain = plainAddress(address);
    if (!isIPv4(plain) && !isIPv6(plain)) return false;
    return list.check(plain, isIPv6(plain) ? 'ipv6' : 'ipv4');
  };
}

/**
 * The client's address: the peer, unless the peer is a trusted proxy, in which case
 * `X-Forwarded-For` is walked from the right past every trusted proxy (left entries are client-written).
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trustedProxy: ((a: string) => boolean) | undefined,
): string | undefined {
  if (!peer) return undefined;
  let address = plainAddress(peer);
  if (!trustedProxy || !forwardedFor || !trustedProxy(address)) return address;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plainAddress(hops[i].replace(/^\[(.*)\](?::\d+)?$/, '$1'));
    if (!isIPv4(hop) && !isIPv6(hop)) return address; // garbage: stop at the last address we could believe
    address = hop;
    if (!trustedProxy(hop)) return hop;
  }
  return address;
}
