import { isIPv4, isIPv6 } from 'node:net';

/** Why the first entry of a CIDR list that is not an address or CIDR is refused, naming its index; undefined when all are. */
export function invalidCidr(cidrs: readonly string[], field = 'allowedCidrs'): string | undefined {
  for (const [i, cidr] of cidrs.entries()) {
    const parts = cidr.split('/');
    const [ip, bits] = parts;
    const max = isIPv4(ip) ? 32 : isIPv6(ip) ? 128 : -1;
    const prefixOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
    if (max < 0 || parts.length > 2 || !prefixOk) {
      return `${field}[${i}]: ${JSON.stringify(cidr)} is not an IP address or CIDR (such as 10.0.0.0/8 or 2001:db8::/32)`;
    }
  }
  return undefined;
}
