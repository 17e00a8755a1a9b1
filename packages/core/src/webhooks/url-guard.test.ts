import { AppError } from '../errors';
import { type Resolve, UrlRefusedError, createUrlGuard } from './url-guard';

/**
 * The callback URL guard (SPEC §6), with the resolver injected: names resolve to what each test says, so the
 * cases that need DNS (a name pointing inside the network) run without any network.
 */
const dns: Record<string, { address: string; family: number }[]> = {
  'hooks.example.com': [{ address: '93.184.216.34', family: 4 }],
  'v6.example.com': [{ address: '2606:4700:4700::1111', family: 6 }],
  'intranet.example.com': [{ address: '10.1.2.3', family: 4 }],
  'metadata.example.com': [{ address: '169.254.169.254', family: 4 }],
  'ula.example.com': [{ address: 'fd00:ec2::254', family: 6 }],
  'mapped.example.com': [{ address: '::ffff:192.168.0.1', family: 6 }],
  'split.example.com': [
    { address: '93.184.216.34', family: 4 },
    { address: '10.0.0.7', family: 4 },
  ],
  'split6.example.com': [
    { address: '2606:4700:4700::1111', family: 6 },
    { address: 'fe80::1', family: 6 },
  ],
  'dev.example.com': [{ address: '127.0.0.1', family: 4 }],
  'mixed-dev.example.com': [
    { address: '127.0.0.1', family: 4 },
    { address: '93.184.216.34', family: 4 },
  ],
  'empty.example.com': [],
};

/** A resolver that answers from the table above, fails like NXDOMAIN otherwise, and records what it was asked. */
function fakeDns() {
  const asked: string[] = [];
  const resolve: Resolve = (hostname) => {
    asked.push(hostname);
    const answer = dns[hostname];
    if (!answer) {
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return Promise.reject(err);
    }
    return Promise.resolve(answer);
  };
  return { resolve, asked };
}

const refusal = async (promise: Promise<unknown>): Promise<string> => {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UrlRefusedError);
  return (err as Error).message;
};

describe('the callback URL guard', () => {
  describe('without CALLBACK_ALLOW_LOOPBACK', () => {
    const { resolve, asked } = fakeDns();
    const guard = createUrlGuard({ allowLoopback: false, resolve });
    beforeEach(() => asked.splice(0));

    it('allows an https URL whose host resolves to a public address, and returns that address to connect to', async () => {
      const vetted = await guard.vet('https://hooks.example.com/castforge?token=abc');
      expect(vetted).toEqual({ url: expect.any(URL), address: '93.184.216.34', family: 4 });
      expect(vetted.url.href).toBe('https://hooks.example.com/castforge?token=abc');
      expect(asked).toEqual(['hooks.example.com']);
    });

    it('returns family 6 for a host that resolves to a public IPv6 address', async () => {
      expect(await guard.vet('https://v6.example.com/h')).toMatchObject({
        address: '2606:4700:4700::1111',
        family: 6,
      });
    });

    it('allows an https URL to a public IP literal without asking DNS', async () => {
      expect(await guard.vet('https://93.184.216.34:8443/h')).toMatchObject({
        address: '93.184.216.34',
        family: 4,
      });
      expect(await guard.vet('https://[2606:4700:4700::1111]/h')).toMatchObject({
        address: '2606:4700:4700::1111',
        family: 6,
      });
      expect(asked).toEqual([]);
    });

    it.each([
      ['intranet.example.com', '10.1.2.3'],
      ['metadata.example.com', '169.254.169.254'],
      ['ula.example.com', 'fd00:ec2::254'],
      ['mapped.example.com', '::ffff:192.168.0.1'],
    ])('refuses a host (%s) that resolves to a private address, naming it', async (host, address) => {
      const message = await refusal(guard.vet(`https://${host}/h`));
      expect(message).toContain(address);
      expect(message).toMatch(/private|link-local|reserved|metadata/);
    });

    it.each(['split.example.com', 'split6.example.com'])(
      'refuses a host (%s) that resolves to a public and a private address',
      async (host) => {
        expect(await refusal(guard.vet(`https://${host}/h`))).toMatch(/private|link-local/);
      },
    );

    it('refuses a host that does not resolve, and one that resolves to nothing', async () => {
      expect(await refusal(guard.vet('https://nowhere.example.com/h'))).toMatch(
        /nowhere\.example\.com does not resolve/,
      );
      expect(await refusal(guard.vet('https://empty.example.com/h'))).toMatch(/does not resolve/);
    });

    it('refuses a host resolving to loopback, and says how to allow it for local testing', async () => {
      expect(await refusal(guard.vet('https://dev.example.com/h'))).toMatch(
        /loopback.*CALLBACK_ALLOW_LOOPBACK/,
      );
    });

    it.each([
      ['http://127.0.0.1:8080/h', 'loopback'],
      ['http://[::1]/h', 'loopback'],
      ['http://[::ffff:127.0.0.1]/h', 'loopback'],
      ['https://10.0.0.1/h', 'private'],
      ['https://169.254.169.254/latest/meta-data/', 'private'],
      ['https://[fd00:ec2::254]/', 'private'],
      ['https://[fe80::1]/', 'private'],
      ['https://[::]/', 'private'],
      ['https://0.0.0.0/', 'private'],
      ['https://[::ffff:169.254.169.254]/', 'private'],
      ['https://[64:ff9b::a9fe:a9fe]/', 'private'],
      ['https://[2002:a9fe:a9fe::1]/', 'private'],
    ])('refuses the IP literal in %s without asking DNS', async (url, kind) => {
      expect(await refusal(guard.vet(url))).toContain(kind);
      expect(asked).toEqual([]);
    });

    it.each([
      ['http://2130706433/', '127.0.0.1'],
      ['http://0x7f.1/', '127.0.0.1'],
      ['http://0x7f000001/', '127.0.0.1'],
      ['http://017700000001/', '127.0.0.1'],
      ['http://127.1/', '127.0.0.1'],
      ['https://0xa.1/', '10.0.0.1'],
      ['https://167772161/', '10.0.0.1'],
      ['https://3232235521/', '192.168.0.1'],
      ['https://0251.0376.0251.0376/', '169.254.169.254'],
      ['https://0xa9.0xfe.0xa9.0xfe/', '169.254.169.254'],
      ['https://2852039166/', '169.254.169.254'],
      ['http://0/', '0.0.0.0'],
    ])('refuses %s, an odd spelling of %s, without asking DNS', async (url, address) => {
      expect(await refusal(guard.vet(url))).toContain(address);
      expect(asked).toEqual([]);
    });

    it.each([
      'https://user:secret@hooks.example.com/h',
      'https://user@hooks.example.com/h',
      'https://:secret@hooks.example.com/h',
    ])('refuses credentials in %s before resolving anything', async (url) => {
      expect(await refusal(guard.vet(url))).toMatch(/credentials/);
      expect(asked).toEqual([]);
    });

    it.each(['ftp://hooks.example.com/h', 'file:///etc/passwd', 'gopher://hooks.example.com/', 'ws://x/'])(
      'refuses the non-http(s) URL %s',
      async (url) => {
        expect(await refusal(guard.vet(url))).toMatch(/only http and https/);
      },
    );

    it('refuses text that is not an absolute URL', async () => {
      expect(await refusal(guard.vet('/relative/hook'))).toMatch(/not a valid absolute URL/);
    });

    it('refuses plain http to a public address or name', async () => {
      expect(await refusal(guard.vet('http://93.184.216.34/h'))).toMatch(/must use https/);
      expect(await refusal(guard.vet('http://hooks.example.com/h'))).toMatch(/must use https/);
    });

    it('at submit, turns a refusal into a 422 INVALID_PARAMETERS that names the field and says why', async () => {
      const err = await guard.checkAtSubmit('https://intranet.example.com/h').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({
        code: 'INVALID_PARAMETERS',
        message: expect.stringMatching(/^callback_url: refused: .*10\.1\.2\.3/),
        detail: [
          {
            loc: ['body', 'callback_url'],
            msg: expect.stringMatching(/^refused: .*private/),
            type: 'url_refused',
          },
        ],
      });
      await expect(guard.checkAtSubmit('https://hooks.example.com/h')).resolves.toBeUndefined();
    });
  });

  describe('with CALLBACK_ALLOW_LOOPBACK=true (local testing)', () => {
    const { resolve } = fakeDns();
    const guard = createUrlGuard({ allowLoopback: true, resolve });

    it('admits plain http to loopback addresses and names resolving only to loopback', async () => {
      expect(await guard.vet('http://127.0.0.1:9/h')).toMatchObject({ address: '127.0.0.1', family: 4 });
      expect(await guard.vet('http://[::1]:9/h')).toMatchObject({ address: '::1', family: 6 });
      expect(await guard.vet('http://dev.example.com/h')).toMatchObject({ address: '127.0.0.1' });
    });

    it('still refuses private and metadata addresses, and plain http to anything but loopback', async () => {
      expect(await refusal(guard.vet('http://10.0.0.1/h'))).toMatch(/private/);
      expect(await refusal(guard.vet('https://169.254.169.254/'))).toMatch(/private/);
      expect(await refusal(guard.vet('http://93.184.216.34/h'))).toMatch(/must use https/);
      expect(await refusal(guard.vet('http://mixed-dev.example.com/h'))).toMatch(/must use https/);
      expect(await refusal(guard.vet('https://split.example.com/h'))).toMatch(/private/);
    });
  });
});
