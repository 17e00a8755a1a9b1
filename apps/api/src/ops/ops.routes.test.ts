import { createRedis } from '@castforge/core';
import { type ApiHarness, openServices, startApi } from '@castforge/testkit';
import request from 'supertest';

/** The value of one series in Prometheus text, or undefined when the series is absent. */
function sample(metrics: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const found = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('operations routes', () => {
  let api: ApiHarness;
  let key: string;
  beforeAll(async () => {
    api = await startApi('ops-routes');
    key = await api.keyFor('ops');
  });
  afterAll(() => api.close());

  describe('GET /healthz', () => {
    it('answers 200 {status: ok}', async () => {
      const res = await request(api.server).get('/healthz');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
    });
  });

  describe('GET /readyz', () => {
    it('answers 200 when Redis and MongoDB both answer', async () => {
      const res = await request(api.server).get('/readyz');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ready', checks: { redis: 'ok', mongodb: 'ok' } });
    });

    it('answers 503 fast, naming Redis, when Redis is unreachable', async () => {
      const services = await openServices('ops-redis-down');
      const deadRedis = createRedis('redis://127.0.0.1:1', 'command', services.logger);
      deadRedis.on('error', () => undefined);
      const down = await startApi('ops-redis-down', {}, { ...services, redis: deadRedis });
      try {
        const started = Date.now();
        const res = await request(down.server).get('/readyz');
        expect(Date.now() - started).toBeLessThan(3000);
        expect(res.status).toBe(503);
        expect(res.body).toEqual({ status: 'unavailable', checks: { redis: 'down', mongodb: 'ok' } });
        expect((await request(down.server).get('/healthz')).status).toBe(200);
      } finally {
        await down.close();
        deadRedis.disconnect();
        await services.close();
      }
    });
  });

  describe('GET /metrics', () => {
    let metrics: string;
    let profileId: string;
    beforeAll(async () => {
      const created = await request(api.server)
        .post('/profiles/v1')
        .set('X-API-Key', key)
        .send({ name: 'm' });
      profileId = created.body.profile_id;
      await request(api.server).post('/profiles/v1').set('X-API-Key', key).send({ name: '' });
      await request(api.server).get(`/profiles/v1/${profileId}`).set('X-API-Key', key);
      await request(api.server).get('/profiles/v1/prof_0000000000000000').set('X-API-Key', key);
      await request(api.server).get('/profiles/v1/not-an-id').set('X-API-Key', key);
      await request(api.server).get(`/profiles/v1/${profileId}`);
      await request(api.server).get(`/profiles/v1/${profileId}/versions/1`).set('X-API-Key', key);
      await request(api.server).get(`/profiles/v1/${profileId}/versions/9`).set('X-API-Key', key);
      await request(api.server).get('/no/such/route/prof_1111111111111111');
      const res = await request(api.server).get('/metrics');
      expect(res.status).toBe(200);
      metrics = res.text;
    });

    it('answers Prometheus text', async () => {
      const res = await request(api.server).get('/metrics');
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.text).toMatch(/^# HELP /m);
    });

    it('exposes the default process metrics', () => {
      for (const name of [
        'process_cpu_user_seconds_total',
        'process_start_time_seconds',
        'nodejs_heap_size_used_bytes',
        'nodejs_eventloop_lag_seconds',
      ]) {
        expect(metrics).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
      }
    });

    it('records http_request_duration_seconds as a histogram by method, route pattern and status', () => {
      expect(metrics).toMatch(/^# TYPE http_request_duration_seconds histogram$/m);
      const count = (method: string, route: string, status_code: string) =>
        sample(metrics, 'http_request_duration_seconds_count', { method, route, status_code });
      expect(count('POST', '/profiles/v1', '201')).toBe(1);
      expect(count('POST', '/profiles/v1', '422')).toBe(1);
      expect(count('GET', '/profiles/v1/:profile_id', '200')).toBe(1);
      expect(count('GET', '/profiles/v1/:profile_id', '404')).toBe(2);
      expect(count('GET', '/profiles/v1/:profile_id', '401')).toBe(1);
      expect(count('GET', '/profiles/v1/:profile_id/versions/:version', '200')).toBe(1);
      expect(count('GET', '/profiles/v1/:profile_id/versions/:version', '404')).toBe(1);
      expect(count('GET', 'unmatched', '404')).toBe(1);
    });

    it('never uses a raw id, a tenant or a key as a label value', () => {
      expect(metrics).not.toMatch(/prof_[0-9a-f]{16}/);
      expect(metrics).not.toContain('not-an-id');
      expect(metrics).not.toContain('tenant');
      expect(metrics).not.toContain(key);
      const routes = new Set(
        [...metrics.matchAll(/^http_request_duration_seconds_count\{[^}]*route="([^"]*)"/gm)].map(
          (m) => m[1],
        ),
      );
      const patterns = [
        '/healthz',
        '/readyz',
        '/metrics',
        '/openapi.json',
        '/profiles/v1',
        '/profiles/v1/:profile_id',
        '/profiles/v1/:profile_id/versions/:version',
        'unmatched',
      ];
      expect(routes.size).toBeGreaterThanOrEqual(4);
      for (const route of routes) expect(patterns).toContain(route);
    });
  });
});
