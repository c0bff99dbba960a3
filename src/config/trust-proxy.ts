import proxyAddr from '@fastify/proxy-addr';
import type { VariableReader } from './reader.js';

/**
 * `TRUST_PROXY`: the proxies whose `X-Forwarded-For` is believed, as
 * addresses, CIDRs or proxy-addr's range names, each checked with the parser
 * Fastify itself uses, so what starts here also serves. A hop count is
 * refused: Fastify 5 trusts no peer for a number, so every client would
 * share the proxy's rate-limit bucket.
 */
export function readTrustProxy(read: VariableReader): false | string[] {
  const raw = read.string('TRUST_PROXY');
  if (raw === undefined || raw.toLowerCase() === 'false') return false;
  if (/^\d+$/.test(raw)) {
    read.problem('TRUST_PROXY', `a hop count ("${raw}") cannot tell a proxy from a client that sends X-Forwarded-For itself`);
    return false;
  }
  const entries = read.list('TRUST_PROXY');
  const invalid: string[] = [];
  const everyone: string[] = [];
  for (const entry of entries) {
    const trust = compile(entry);
    // proxy-addr reads a bare number as an IPv4 address ("1" is 0.0.0.1), never what was meant.
    if (/^\d+$/.test(entry)) invalid.push(entry);
    else if (/\/0*0$/.test(entry) || (trust !== null && trustsEveryone(trust))) everyone.push(entry);
    else if (trust === null) invalid.push(entry);
  }
  if (invalid.length > 0) read.problem('TRUST_PROXY', `"${invalid.join(', ')}" is not an IP address, CIDR or range name`);
  // Ranges can cover everything together (0.0.0.0/1 and 128.0.0.0/1) though none does alone.
  if (invalid.length === 0 && everyone.length === 0 && trustsEveryone(proxyAddr.compile(entries))) everyone.push(entries.join(','));
  if (everyone.length > 0) {
    read.problem('TRUST_PROXY', `"${everyone.join(', ')}" would trust every address, so any client could choose the IP it is limited by`);
  }
  return invalid.length + everyone.length > 0 ? false : entries;
}

type Trust = (address: string, hop: number) => boolean;

function compile(entry: string): Trust | null {
  try {
    return proxyAddr.compile([entry]);
  } catch {
    return null;
  }
}

/** Addresses spread over each space: trusted all together only when the ranges cover it whole. */
const IPV4_SAMPLES = Array.from({ length: 16 }, (_, i) => `${i * 16 + 1}.${i * 16}.7.${255 - i}`);
const IPV6_SAMPLES = Array.from({ length: 16 }, (_, i) => `${(i * 0x1000 + 0x0fff).toString(16)}::${i + 2}`);

/** Whether every sample of IPv4 (`::ffff:0.0.0.0/96` is all of it) or of IPv6 is trusted. */
function trustsEveryone(trust: Trust): boolean {
  return IPV4_SAMPLES.every((address) => trust(address, 0)) || IPV6_SAMPLES.every((address) => trust(address, 0));
}
