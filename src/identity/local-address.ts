import { BlockList, isIP } from 'node:net';

/** Addresses that reach this machine or its cloud metadata service rather than another host. */
const LOCAL = new BlockList();
LOCAL.addSubnet('127.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('0.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LOCAL.addAddress('::1', 'ipv6');
LOCAL.addAddress('::', 'ipv6');
LOCAL.addSubnet('fe80::', 10, 'ipv6');

/** `::ffff:7f00:1` (as WHATWG URL writes `::ffff:127.0.0.1`) → `127.0.0.1`. */
function mappedIpv4(address: string): string | null {
  const match = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address) ?? null;
  if (match !== null) {
    const [hi, lo] = [parseInt(match[1]!, 16), parseInt(match[2]!, 16)];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return dotted?.[1] ?? null;
}

/**
 * Whether a URL hostname (as WHATWG `URL` parses it) names this machine:
 * `localhost` and its subdomains, loopback, unspecified and link-local
 * addresses, also as IPv4-mapped IPv6. Names are not resolved.
 */
export function isLocalHostname(hostname: string): boolean {
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const family = isIP(host);
  if (family === 4) return LOCAL.check(host, 'ipv4');
  if (family !== 6) return false;
  const mapped = mappedIpv4(host);
  return mapped !== null ? LOCAL.check(mapped, 'ipv4') : LOCAL.check(host, 'ipv6');
}
