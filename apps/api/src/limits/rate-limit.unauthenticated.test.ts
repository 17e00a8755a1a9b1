import { randomBytes } from 'node:crypto';
import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type KeyStore, createRegistry } from '@castforge/core';
import { type ApiHarness, expectError, startApi } from '@castforge/testkit';
import { createApp } from '../app';

const BUDGET = 20;

describe('requests without a valid key, limited per client address (SPEC §1)', () => {
  let api: ApiHarness;
  let server: Server;
  let baseUrl: string;
  let lookups = 0;
  beforeAll(async () => {
    api = await startApi('ratelimit-unauthenticated', {
      RATE_LIMIT_UNAUTHENTICATED: String(BUDGET),
      // The test plays clients behind a proxy on loopback, telling them apart by X-Forwarded-For.
      TRUST_PROXY: 'loopback',
    });
    // The same app, with its key store counted: every call is a key looked up (in MongoDB when not cached).
    const keys: KeyStore = {
      ...api.deps.keys,
      authenticate: (key) => {
        lookups += 1;
        return api.deps.keys.authenticate(key);
      },
    };
    const app = createApp({ ...api.deps, keys, registry: createRegistry('api') });
    server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await api.close();
  });

  const call = (from: string, key?: string) =>
    fetch(`${baseUrl}/profiles/v1`, {
      headers: { 'X-Forwarded-For': from, ...(key !== undefined && { 'X-API-Key': key }) },
    });
  const randomKey = () => `cfk_${randomBytes(16).toString('hex')}`;
  const answer = async (res: Response) => ({
    status: res.status,
    headers: Object.fromEntries(res.headers),
    body: await res.json(),
  });

  it('answers 429 once an address spent its budget of 401s, without looking its keys up any more', async () => {
    const flood = '203.0.113.7';
    const before = lookups;
    const statuses: number[] = [];
    for (let i = 0; i < BUDGET * 3; i++) statuses.push((await call(flood, randomKey())).status);
    expect(statuses).toEqual([...Array(BUDGET).fill(401), ...Array(BUDGET * 2).fill(429)]);
    expect(lookups - before).toBe(BUDGET);

    // A burst at once from the same address: refused in memory, nothing looked up.
    const burst = await Promise.all(Array.from({ length: 100 }, () => call(flood, randomKey())));
    expect(burst.every((res) => res.status === 429)).toBe(true);
    expect(lookups - before).toBe(BUDGET);

    const refused = await answer(await call(flood, randomKey()));
    expectError(refused, 'RATE_LIMIT_EXCEEDED');
    expect(refused.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect(refused.headers['ratelimit-policy']).toBe(`"unauthenticated";q=${BUDGET};w=60`);
    expect(refused.headers.ratelimit).toMatch(/^"unauthenticated";r=0;t=\d+$/);
  });

  it('counts requests with no key at all against the same budget', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < BUDGET + 2; i++) statuses.push((await call('203.0.113.8')).status);
    expect(statuses).toEqual([...Array(BUDGET).fill(401), 429, 429]);
  });

  it('still serves another address, and a valid key never spends the budget', async () => {
    const key = await api.keyFor('honest');
    const statuses: number[] = [];
    for (let i = 0; i < BUDGET * 2; i++) statuses.push((await call('198.51.100.1', key)).status);
    expect(new Set(statuses)).toEqual(new Set([200]));
    expectError(await answer(await call('198.51.100.2', randomKey())), 'UNAUTHORIZED');
  });

  it('lets a key that authenticated lately through a blocked address, not a key new to this process', async () => {
    const office = '192.0.2.10';
    const known = await api.keyFor('office-known');
    const fresh = (await api.deps.keys.create('office-new', 'fresh')).api_key;
    expect((await call(office, known)).status).toBe(200);
    for (let i = 0; i < BUDGET; i++) expect((await call(office, randomKey())).status).toBe(401);
    expect((await call(office, randomKey())).status).toBe(429);
    expect((await call(office, known)).status).toBe(200);
    expectError(await answer(await call(office, fresh)), 'RATE_LIMIT_EXCEEDED');
  });
});
