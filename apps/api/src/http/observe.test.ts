/**
 * The request log (observe.ts): a 4xx is one `request completed` line at info with the request id, method,
 * URL (signatures redacted) and, once authenticated, the tenant; a 2xx writes nothing at info; a 5xx's line
 * is at error. The histogram's route label is the pattern, never the id.
 */
import { type ApiHarness, type TestServices, memoryLogger, openServices, startApi } from '@castforge/testkit';
import request from 'supertest';

describe('request log and duration histogram', () => {
  const lines: string[] = [];
  let services: TestServices;
  let api: ApiHarness;
  let key: string;
  beforeAll(async () => {
    services = { ...(await openServices('observe')), logger: memoryLogger('api', lines, 'info') };
    api = await startApi('observe', {}, services);
    key = await api.keyFor('observe');
  });
  afterAll(async () => {
    await api?.close();
    await services?.close();
  });
  const completed = () =>
    lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === 'request completed');

  it('writes one info line for a 4xx, with id, URL and tenant, and none for a 2xx at info', async () => {
    lines.length = 0;
    await request(api.server).get('/healthz').expect(200);
    await request(api.server).get('/profiles/v1').set('X-API-Key', key).expect(200);
    const missing = await request(api.server)
      .get('/profiles/v1/prof_0123456789abcdef?sig=secret-signature')
      .set('X-API-Key', key)
      .set('X-Request-Id', 'trace-observe-1')
      .expect(404);
    expect(missing.headers['x-request-id']).toBe('trace-observe-1');
    const unauthenticated = await request(api.server).get('/profiles/v1').expect(401);

    const written = completed();
    expect(written).toHaveLength(2);
    expect(written[0]).toMatchObject({
      level: 30,
      tenant_id: 'observe',
      req: {
        id: 'trace-observe-1',
        method: 'GET',
        url: '/profiles/v1/prof_0123456789abcdef?sig=[redacted]',
      },
      res: { statusCode: 404 },
      responseTime: expect.any(Number),
    });
    expect(written[1]).toMatchObject({ req: { id: unauthenticated.headers['x-request-id'] } });
    expect(written[1]).not.toHaveProperty('tenant_id');
    expect(lines.join('')).not.toContain('secret-signature');
  });

  it('counts requests under their route pattern, never the id in the path', async () => {
    await request(api.server).get('/profiles/v1/prof_00000000000000aa').set('X-API-Key', key).expect(404);
    const metrics = (await request(api.server).get('/metrics').expect(200)).text;
    expect(metrics).toMatch(
      /http_request_duration_seconds_count\{[^}]*method="GET",route="\/profiles\/v1\/:profile_id",status_code="404"\} [1-9]/,
    );
    expect(metrics).not.toContain('prof_00000000000000aa');
  });
});
