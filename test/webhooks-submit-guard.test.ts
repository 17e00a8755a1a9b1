/**
 * Callback URLs refused when a job is submitted (SPEC §6, issue #4): the API answers 422 saying why, and
 * nothing is recorded or queued. This API runs without CALLBACK_ALLOW_LOOPBACK, as in production; `localhost`
 * resolves through /etc/hosts, so it goes through the real resolver.
 */
import { type ApiHarness, expectError, startApi } from '@castforge/testkit';
import { type Redis, redisKeys, scanKeys } from '@castforge/core';
import request from 'supertest';

/** Every key under the prefix that belongs to the tenant: its lanes, its in-flight count, its job records. */
async function traces(redis: Redis, prefix: string, tenant: string): Promise<string[]> {
  const found: string[] = [];
  const b = redisKeys(prefix).forTenant(tenant);
  for (const key of await scanKeys(redis, `${prefix}:*`)) {
    if (key.includes(`gen.${tenant}`)) found.push(key);
    else if (key.startsWith(`${b.tag}:job:`) && (await redis.hget(key, 'tenant')) === tenant) found.push(key);
  }
  const inflight = await redis.hget(b.inflight, tenant);
  if (inflight && inflight !== '0') found.push(`${b.inflight}[${tenant}]=${inflight}`);
  return found;
}

describe('POST /generate/image/v1 with a callback_url the guard refuses', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('story-webhook-submit-guard');
  });
  afterAll(() => api.close());

  const submit = async (tenant: string, callbackUrl: string) =>
    request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', await api.keyFor(tenant))
      .send({ prompt: 'a harbour', width: 64, height: 64, callback_url: callbackUrl });

  it.each([
    ['127.0.0.1 (loopback is not allowed here)', 'http://127.0.0.1:8080/hook', /loopback.*127\.0\.0\.1/],
    ['a loopback https URL', 'https://127.0.0.1/hook', /loopback/],
    ['10.0.0.1 (RFC 1918)', 'https://10.0.0.1/hook', /private.*10\.0\.0\.1/],
    ['192.168.1.20 (RFC 1918)', 'https://192.168.1.20/hook', /private/],
    ['100.64.0.1 (CGNAT)', 'https://100.64.0.1/hook', /private/],
    ['169.254.169.254 (cloud metadata)', 'http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254/],
    ['[::1] (IPv6 loopback)', 'http://[::1]:8080/hook', /loopback/],
    ['[::ffff:127.0.0.1] (IPv4-mapped loopback)', 'http://[::ffff:127.0.0.1]/hook', /loopback/],
    ['[::ffff:169.254.169.254] (IPv4-mapped metadata)', 'https://[::ffff:169.254.169.254]/', /private/],
    ['[fd00:ec2::254] (ULA metadata)', 'https://[fd00:ec2::254]/', /private/],
    ['[fe80::1] (link-local)', 'https://[fe80::1]/hook', /private|link-local/],
    ['localhost (resolved by the system resolver)', 'http://localhost:8080/hook', /loopback/],
    ['2130706433 (127.0.0.1 in decimal)', 'http://2130706433/hook', /loopback/],
    ['0x7f.1 (127.0.0.1 in hex, short)', 'http://0x7f.1/hook', /loopback/],
    ['credentials in the URL', 'https://user:hunter2@93.184.216.34/hook', /credentials/],
    ['a user name in the URL', 'https://user@93.184.216.34/hook', /credentials/],
    ['plain http to a public address', 'http://93.184.216.34/hook', /https/],
  ])('refuses %s with a 422 that says why, and queues nothing', async (_case, url, why) => {
    const tenant = `guard-${Math.random().toString(36).slice(2, 8)}`;
    const res = await submit(tenant, url);

    const body = expectError(res, 'INVALID_PARAMETERS');
    expect(body.message).toMatch(/^callback_url: refused: /);
    expect(body.message).toMatch(why);
    expect(body.detail).toEqual([
      { loc: ['body', 'callback_url'], msg: expect.stringMatching(why), type: 'url_refused' },
    ]);
    expect(await traces(api.services.redis, api.services.prefix, tenant)).toEqual([]);
  });

  it.each([
    ['ftp://93.184.216.34/hook', 'ftp'],
    ['file:///etc/passwd', 'file'],
    ['gopher://93.184.216.34:70/_hook', 'gopher'],
  ])(
    'refuses the non-http(s) URL %s with a 422 that names the scheme rule, and queues nothing',
    async (url) => {
      const tenant = `guard-${Math.random().toString(36).slice(2, 8)}`;
      const res = await submit(tenant, url);

      const body = expectError(res, 'INVALID_PARAMETERS');
      expect(body.detail.map((d) => d.loc.join('.'))).toEqual(['body.callback_url']);
      expect(await traces(api.services.redis, api.services.prefix, tenant)).toEqual([]);
      // "must be a valid url" does not say why a well-formed ftp:// URL is refused; the rule is http(s) only.
      expect(body.message).toMatch(/http/i);
    },
  );

  it('never echoes the credentials of a refused URL', async () => {
    const res = await submit('guard-echo', 'https://deploy:s3cr3t-pa55@93.184.216.34/hook');
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body)).not.toContain('s3cr3t-pa55');
  });

  it('accepts an https URL to a public address (the refusals above are about the address, not the form)', async () => {
    const tenant = 'guard-public';
    const res = await submit(tenant, 'https://93.184.216.34/hooks/castforge?token=abc');
    expect(res.status).toBe(202);
    expect(await traces(api.services.redis, api.services.prefix, tenant)).not.toEqual([]);
  });
});
