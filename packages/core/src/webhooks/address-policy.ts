import { BlockList, isIP } from 'node:net';

/**
 * Which addresses a webhook may be delivered to (SPEC §6): never loopback, private (RFC 1918, ULA),
 * link-local, CGNAT, multicast, unspecified, reserved or documentation ranges, nor the cloud metadata
 * addresses (169.254.169.254 is link-local, fd00:ec2::254 is ULA, 100.100.100.200 is CGNAT). IPv6 forms
 * that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that IPv4 address.
 */
const blocked = new BlockList();
const loopback = new BlockList();

for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // CGNAT (RFC 6598)
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['100::', 64], // discard
  ['2001::', 32], // Teredo: the IPv4 address inside is obfuscated, so refuse it whole
  ['2001:2::', 48], // benchmarking
  ['2001:db8::', 32], // documentation
  ['3fff::', 20], // documentation (RFC 9637)
  ['64:ff9b:1::', 48], // local-use NAT64 (RFC 8215), never globally routed
  ['fc00::', 7], // unique local (incl. fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** The 8 hextets of an IPv6 address (with or without brackets, `::`, or an embedded dotted quad). */
export function ipv6Hextets(address: string): number[] | null {
  let text = address.replace(/^\[|\]$/g, '').split('%')[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const parts = dotted[1]!.split('.').map(Number);
    if (parts.some((p) => p > 255)) return null;
    text = `${text.slice(0, -dotted[1]!.length)}${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  const hextets = all.map((h) => (/^[0-9a-f]{1,4}$/i.test(h) ? parseInt(h, 16) : NaN));
  return hextets.length === 8 && hextets.every((h) => !Number.isNaN(h)) ? hextets : null;
}

const ipv4Of = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/** The IPv4 address an IPv6 address stands for, if it is one of the forms that embed one. */
export function embeddedIpv4(address: string): string | null {
  const h = ipv6Hextets(address);
  if (!h) return null;
  const zeros = (from: number, to: number) => h.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && h[5] === 0xffff) return ipv4Of(h[6]!, h[7]!); // ::ffff:a.b.c.d (mapped)
  if (zeros(0, 4) && h[4] === 0xffff && h[5] === 0) return ipv4Of(h[6]!, h[7]!); // ::ffff:0:a.b.c.d (translated)
  if (zeros(0, 6) && (h[6] !== 0 || h[7]! > 1)) return ipv4Of(h[6]!, h[7]!); // ::a.b.c.d (compatible)
  if (h[0] === 0x64 && h[1] === 0xff9b && zeros(2, 6)) return ipv4Of(h[6]!, h[7]!); // 64:ff9b::/96 (NAT64)
  if (h[0] === 0x2002) return ipv4Of(h[1]!, h[2]!); // 2002::/16 (6to4)
  return null;
}

export type AddressVerdict = 'public' | 'loopback' | 'blocked';

/** Classifies one IP address (v4 or v6, brackets allowed). Anything unparsable is `blocked`. */
export function classifyAddress(raw: string): AddressVerdict {
  const address = raw.replace(/^\[|\]$/g, '');
  const family = isIP(address);
  if (family === 4) {
    if (loopback.check(address, 'ipv4')) return 'loopback';
    return blocked.check(address, 'ipv4') ? 'blocked' : 'public';
  }
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4) return classifyAddress(v4);
    if (loopback.check(address, 'ipv6')) return 'loopback';
    // ::/96 (IPv4-compatible, deprecated) without a usable IPv4 inside, e.g. ::1 handled above, :: below.
    return blocked.check(address, 'ipv6') ? 'blocked' : 'public';
  }
  return 'blocked';
}
