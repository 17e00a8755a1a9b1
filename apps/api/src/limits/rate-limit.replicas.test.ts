import { type ApiHarness, type TestServices, expectError, openServices, startApi } from '@castforge/testkit';

/** The budgets of this file: a window longer than the test, so nothing refills while it runs. */
const LIMITS = {
  RATE_LIMIT_READS: '30',
  RATE_LIMIT_READS_WINDOW_SECONDS: '600',
  RATE_LIMIT_WRITES: '12',
  RATE_LIMIT_WRITES_WINDOW_SECONDS: '600',
  RATE_LIMIT_PUBLIC: '5',
};

describe('rate limits held in Redis across API processes (SPEC §1)', () => {
  let services: TestServices;
  let apis: ApiHarness[];
  beforeAll(async () => {
    services = await openServices('ratelimit-replicas');
    apis = [];
    for (let i = 0; i < 3; i++) apis.push(await startApi('ratelimit-replicas', LIMITS, services));
  });
  afterAll(async () => {
    for (const api of apis) await api.close();
    await services.close();
  });

  /** `count` requests in turn across the three processes, as a balancer would spread them. */
  const roundRobin = async (count: number, call: (api: ApiHarness, i: number) => Promise<Response>) => {
    const answers: Response[] = [];
    for (let i = 0; i < count; i++) answers.push(await call(apis[i % apis.length]!, i));
    return answers;
  };
  const asAnswer = async (res: Response) => ({
    status: res.status,
    headers: Object.fromEntries(res.headers),
    body: await res.json(),
  });

  it('lets one key through 30 status reads in total across three processes, then answers 429', async () => {
    const key = await apis[0]!.keyFor('reader');
    const answers = await roundRobin(60, (api) =>
      fetch(`${api.baseUrl}/profiles/v1`, { headers: { 'X-API-Key': key } }),
    );
    expect(answers.map((res) => res.status)).toEqual([...Array(30).fill(200), ...Array(30).fill(429)]);
    const refused = await asAnswer(answers[45]!);
    expectError(refused, 'RATE_LIMIT_EXCEEDED');
    expect(refused.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(600);
    expect(refused.headers['ratelimit-policy']).toBe('"reads";q=30;w=600');
    expect(refused.headers.ratelimit).toMatch(/^"reads";r=0;t=\d+$/);
  });

  it('counts the budget down in the RateLimit field of every answer', async () => {
    const key = await apis[0]!.keyFor('counter');
    const answers = await roundRobin(3, (api) =>
      fetch(`${api.baseUrl}/profiles/v1`, { headers: { 'X-API-Key': key } }),
    );
    expect(answers.map((res) => res.headers.get('ratelimit')?.replace(/;t=\d+$/, ''))).toEqual([
      '"reads";r=29',
      '"reads";r=28',
      '"reads";r=27',
    ]);
    expect(answers[0]!.headers.get('ratelimit-policy')).toBe('"reads";q=30;w=600');
  });

  it('keeps writes on a budget of their own, untouched by reads', async () => {
    const key = await apis[0]!.keyFor('writer');
    await roundRobin(30, (api) => fetch(`${api.baseUrl}/profiles/v1`, { headers: { 'X-API-Key': key } }));
    const writes = await roundRobin(15, (api, i) =>
      fetch(`${api.baseUrl}/profiles/v1`, {
        method: 'POST',
        headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: `Writer ${i}` }),
      }),
    );
    expect(writes.map((res) => res.status)).toEqual([...Array(12).fill(201), ...Array(3).fill(429)]);
    expect(writes[0]!.headers.get('ratelimit-policy')).toBe('"writes";q=12;w=600');
  });

  it("does not spend one key's budget on another key of the same tenant", async () => {
    const first = await apis[0]!.keyFor('two-keys');
    const second = (await apis[0]!.deps.keys.create('two-keys', 'second')).api_key;
    await roundRobin(31, (api) => fetch(`${api.baseUrl}/profiles/v1`, { headers: { 'X-API-Key': first } }));
    const res = await fetch(`${apis[1]!.baseUrl}/profiles/v1`, { headers: { 'X-API-Key': second } });
    expect(res.status).toBe(200);
  });

  it('limits the routes without a key per client address, in each process', async () => {
    const api = apis[2]!;
    const answers = await roundRobin(7, () => fetch(`${api.baseUrl}/healthz`));
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expectError(await asAnswer(answers[6]!), 'RATE_LIMIT_EXCEEDED');
    expect(answers[6]!.headers.get('ratelimit-policy')).toBe('"public";q=5;w=60');
  });
});
