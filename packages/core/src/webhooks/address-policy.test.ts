import { classifyAddress, embeddedIpv4, ipv6Hextets } from './address-policy';

/**
 * Which addresses a webhook may reach (SPEC §6, issue #4): every address below is one a receiver must never
 * be able to point the worker at, except loopback, which CALLBACK_ALLOW_LOOPBACK may admit for local testing.
 */
describe('classifyAddress (the SSRF address policy)', () => {
  describe('IPv4', () => {
    it.each([
      ['0.0.0.0', 'unspecified'],
      ['0.1.2.3', '"this network" (0/8)'],
      ['10.0.0.1', 'RFC 1918 (10/8)'],
      ['10.255.255.255', 'RFC 1918 (10/8), last address'],
      ['172.16.0.1', 'RFC 1918 (172.16/12), first'],
      ['172.31.255.254', 'RFC 1918 (172.16/12), last'],
      ['192.168.1.1', 'RFC 1918 (192.168/16)'],
      ['100.64.0.1', 'CGNAT (100.64/10), first'],
      ['100.127.255.254', 'CGNAT (100.64/10), last'],
      ['100.100.100.200', 'Alibaba Cloud metadata (CGNAT)'],
      ['169.254.169.254', 'AWS/GCP/Azure metadata (link-local)'],
      ['169.254.0.1', 'link-local (169.254/16)'],
      ['192.0.0.1', 'IETF protocol assignments (192.0.0/24)'],
      ['192.0.2.10', 'documentation TEST-NET-1'],
      ['198.51.100.10', 'documentation TEST-NET-2'],
      ['203.0.113.10', 'documentation TEST-NET-3'],
      ['192.88.99.1', '6to4 relay anycast'],
      ['198.18.0.1', 'benchmarking (198.18/15)'],
      ['198.19.255.254', 'benchmarking (198.18/15), last'],
      ['224.0.0.1', 'multicast'],
      ['239.255.255.250', 'multicast (SSDP)'],
      ['240.0.0.1', 'reserved (240/4)'],
      ['255.255.255.255', 'limited broadcast'],
    ])('refuses %s (%s)', (address) => {
      expect(classifyAddress(address)).toBe('blocked');
    });

    it.each(['127.0.0.1', '127.0.0.53', '127.255.255.254'])(
      'calls %s loopback, which only CALLBACK_ALLOW_LOOPBACK admits',
      (address) => {
        expect(classifyAddress(address)).toBe('loopback');
      },
    );

    it.each([
      ['8.8.8.8', 'a public resolver'],
      ['93.184.216.34', 'a public web server'],
      ['172.15.255.255', 'just below 172.16/12'],
      ['172.32.0.1', 'just above 172.16/12'],
      ['100.63.255.255', 'just below CGNAT'],
      ['100.128.0.1', 'just above CGNAT'],
      ['169.253.255.255', 'just below link-local'],
      ['11.0.0.1', 'just above 10/8'],
      ['223.255.255.255', 'just below multicast'],
    ])('allows %s (%s)', (address) => {
      expect(classifyAddress(address)).toBe('public');
    });
  });

  describe('IPv6', () => {
    it.each([
      ['::', 'unspecified'],
      ['[::]', 'unspecified, with brackets as in a URL'],
      ['fc00::1', 'unique local (fc00::/7)'],
      ['fd12:3456:789a::1', 'unique local (fd00::/8)'],
      ['fd00:ec2::254', 'AWS metadata over IPv6 (ULA)'],
      ['fe80::1', 'link-local'],
      ['febf:ffff::1', 'link-local, last /10'],
      ['fec0::1', 'site-local (deprecated)'],
      ['ff02::1', 'multicast, all nodes'],
      ['ff05::1:3', 'multicast, site'],
      ['2001:db8::1', 'documentation (2001:db8::/32)'],
      ['3fff::1', 'documentation (3fff::/20, RFC 9637)'],
      ['100::1', 'discard-only (100::/64)'],
      ['2001:2::1', 'benchmarking (2001:2::/48), as 198.18/15 is for IPv4'],
      ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo (its IPv4 is obfuscated)'],
    ])('refuses %s (%s)', (address) => {
      expect(classifyAddress(address)).toBe('blocked');
    });

    it.each(['::1', '[::1]', '0:0:0:0:0:0:0:1'])('calls %s loopback', (address) => {
      expect(classifyAddress(address)).toBe('loopback');
    });

    it.each([
      ['2606:4700:4700::1111', 'a public resolver'],
      ['2a00:1450:4001:80b::200e', 'a public web server'],
      ['[2606:4700:4700::1111]', 'with brackets'],
    ])('allows %s (%s)', (address) => {
      expect(classifyAddress(address)).toBe('public');
    });
  });

  describe('IPv6 forms that carry an IPv4 address are judged by that address', () => {
    it.each([
      ['::ffff:127.0.0.1', 'loopback', 'IPv4-mapped, dotted'],
      ['::ffff:7f00:1', 'loopback', 'IPv4-mapped, hex (as the URL parser writes it)'],
      ['[::ffff:7f00:1]', 'loopback', 'IPv4-mapped, bracketed'],
      ['::ffff:10.0.0.1', 'blocked', 'IPv4-mapped private'],
      ['::ffff:a9fe:a9fe', 'blocked', 'IPv4-mapped metadata (169.254.169.254)'],
      ['::ffff:0:10.1.2.3', 'blocked', 'IPv4-translated private'],
      ['::127.0.0.1', 'loopback', 'IPv4-compatible loopback'],
      ['::10.0.0.1', 'blocked', 'IPv4-compatible private'],
      ['::a00:1', 'blocked', 'IPv4-compatible private, hex'],
      ['64:ff9b::10.0.0.1', 'blocked', 'NAT64 of a private address'],
      ['64:ff9b::a9fe:a9fe', 'blocked', 'NAT64 of the metadata address'],
      ['64:ff9b::7f00:1', 'loopback', 'NAT64 of loopback'],
      ['64:ff9b:1::a00:1', 'blocked', 'local-use NAT64 (64:ff9b:1::/48, RFC 8215), never globally routed'],
      ['2002:a00:1::1', 'blocked', '6to4 of 10.0.0.1'],
      ['2002:a9fe:a9fe::', 'blocked', '6to4 of the metadata address'],
      ['2002:c0a8:101::1', 'blocked', '6to4 of 192.168.1.1'],
      ['::ffff:8.8.8.8', 'public', 'IPv4-mapped public'],
      ['64:ff9b::808:808', 'public', 'NAT64 of a public address'],
      ['2002:808:808::1', 'public', '6to4 of a public address'],
    ])('classifies %s as %s (%s)', (address, verdict) => {
      expect(classifyAddress(address)).toBe(verdict);
    });

    it('finds the IPv4 address inside each form and none inside a plain IPv6 address', () => {
      expect(embeddedIpv4('::ffff:169.254.169.254')).toBe('169.254.169.254');
      expect(embeddedIpv4('::ffff:a9fe:a9fe')).toBe('169.254.169.254');
      expect(embeddedIpv4('64:ff9b::c0a8:101')).toBe('192.168.1.1');
      expect(embeddedIpv4('2002:c0a8:101:1::1')).toBe('192.168.1.1');
      expect(embeddedIpv4('2606:4700:4700::1111')).toBeNull();
      expect(embeddedIpv4('::1')).toBeNull();
    });

    it('expands compressed and dotted IPv6 spellings to their eight hextets, and rejects malformed ones', () => {
      expect(ipv6Hextets('::ffff:127.0.0.1')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]);
      expect(ipv6Hextets('[fe80::1%eth0]')).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 1]);
      expect(ipv6Hextets('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(ipv6Hextets('1::2::3')).toBeNull();
      expect(ipv6Hextets('1:2:3')).toBeNull();
      expect(ipv6Hextets('::ffff:300.1.1.1')).toBeNull();
    });
  });

  it.each(['', 'localhost', 'example.com', '127.1', '2130706433', '0x7f.1', '1.2.3.4.5', 'fe80::zz'])(
    'refuses %j, which is not an IP address: only resolved addresses are judged',
    (text) => {
      expect(classifyAddress(text)).toBe('blocked');
    },
  );
});
