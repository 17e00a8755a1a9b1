import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { createLogger, createRegistry } from '@castforge/core';
import { type ApiHarness, expectError, startApi } from '@castforge/testkit';
import { Queue } from 'bullmq';
import express from 'express';
import { createApp } from '../app';
import { errorHandler } from '../http/errors';
import { createQueueBoard } from './queue-board';

const ADMIN_KEY = 'adm_7d4c1f0e9b8a76543210';

interface QueuesAnswer {
  queues: { name: string; readOnlyMode: boolean; jobs: { data: unknown }[] }[];
}

const listen = (app: express.Express) =>
  new Promise<Server>((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const stop = async (server: Server) => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
};
const answer = async (res: Response) => ({
  status: res.status,
  headers: Object.fromEntries(res.headers),
  body: await res.json(),
});

describe('GET /admin/queues (Bull Board)', () => {
  let api: ApiHarness;
  let extra: Queue;
  let server: Server;
  let baseUrl: string;
  beforeAll(async () => {
    api = await startApi('admin-queues', { ADMIN_API_KEYS: `adm_another_operator_key_01, ${ADMIN_KEY}` });
    // A generation-like queue next to the webhooks one, with a job carrying what must not be shown.
    extra = new Queue('lane-demo', {
      connection: api.services.redis,
      prefix: api.deps.jobs.keys.webhooks.bullPrefix,
    });
    await extra.add('generate', { prompt: 'a harbour', input_image: 'data:image/png;base64,AAAA' });
    const app = createApp({
      ...api.deps,
      registry: createRegistry('api'),
      listQueues: () => Promise.resolve([api.deps.outbox.queue, extra]),
    });
    server = await listen(app);
    baseUrl = urlOf(server);
  });
  afterAll(async () => {
    await stop(server);
    await extra.obliterate({ force: true });
    await extra.close();
    await api.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${baseUrl}${path}`, { headers });
  const asAdmin = { 'X-API-Key': ADMIN_KEY };

  it('without a key answers 401 in the SPEC §8 shape and asks a browser for Basic credentials', async () => {
    const res = await answer(await get('/admin/queues'));
    expectError(res, 'UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toMatch(/^Basic realm="castforge admin"/);
  });

  it("refuses a tenant's API key with 401 in the SPEC §8 shape", async () => {
    const tenantKey = await api.keyFor('not-an-operator');
    const res = await answer(await get('/admin/queues/api/queues', { 'X-API-Key': tenantKey }));
    expectError(res, 'UNAUTHORIZED');
    expect((res.body as { message: string }).message).toMatch(/not an admin key/);
  });

  it('serves the board to an admin key, as X-API-Key or as a Basic auth password', async () => {
    const page = await get('/admin/queues', asAdmin);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/castforge queues/);
    const basic = `Basic ${Buffer.from(`operator:${ADMIN_KEY}`).toString('base64')}`;
    expect((await get('/admin/queues/api/queues', { Authorization: basic })).status).toBe(200);
  });

  it('shows the queues listQueues gives, read-only, with image and URL fields of job data hidden', async () => {
    const res = await get('/admin/queues/api/queues?activeQueue=lane-demo&status=waiting', asAdmin);
    const body = (await res.json()) as QueuesAnswer;
    expect(body.queues.map((q) => [q.name, q.readOnlyMode]).sort()).toEqual([
      ['lane-demo', true],
      ['webhooks', true],
    ]);
    const lane = body.queues.find((q) => q.name === 'lane-demo')!;
    expect(lane.jobs.map((job) => job.data)).toEqual([{ prompt: 'a harbour', input_image: '[hidden]' }]);
  });

  it('refuses every change with 405 while read-only', async () => {
    const res = await fetch(`${baseUrl}/admin/queues/api/queues/webhooks/pause`, {
      method: 'PUT',
      headers: asAdmin,
    });
    const refused = await answer(res);
    expectError(refused, 'METHOD_NOT_ALLOWED');
    expect(refused.headers.allow).toBe('GET, HEAD');
    expect(await api.deps.outbox.queue.isPaused()).toBe(false);
  });

  it('is not there at all without ADMIN_API_KEYS', async () => {
    const res = await fetch(`${api.baseUrl}/admin/queues`, { headers: asAdmin });
    expect(res.status).toBe(200);
    const plain = await startApi('admin-queues-off');
    try {
      expectError(
        await answer(await fetch(`${plain.baseUrl}/admin/queues`, { headers: asAdmin })),
        'NOT_FOUND',
      );
    } finally {
      await plain.close();
    }
  });
});

describe('createQueueBoard', () => {
  it('shows queues added and drops queues removed at runtime, at each refresh', async () => {
    const api = await startApi('admin-queues-runtime');
    const listed: Queue[] = [];
    const board = createQueueBoard({
      basePath: '/board',
      readOnly: true,
      listQueues: () => Promise.resolve([...listed]),
      logger: createLogger({ name: 'board', level: 'silent' }),
    });
    const app = express();
    app.use('/board', board.router);
    app.use(errorHandler(createLogger({ name: 'board', level: 'silent' })));
    const server = await listen(app);
    const names = async () => {
      const body = (await (await fetch(`${urlOf(server)}/board/api/queues`)).json()) as QueuesAnswer;
      return body.queues.map((q) => q.name).sort();
    };
    const queue = (name: string) =>
      new Queue(name, { connection: api.services.redis, prefix: api.deps.jobs.keys.webhooks.bullPrefix });
    const [a, b] = [queue('lane-a'), queue('lane-b')];
    try {
      listed.push(a);
      await board.refresh();
      expect(await names()).toEqual(['lane-a']);
      listed.push(b);
      await board.refresh();
      expect(await names()).toEqual(['lane-a', 'lane-b']);
      listed.splice(0, 1);
      await board.refresh();
      expect(await names()).toEqual(['lane-b']);
    } finally {
      await stop(server);
      await Promise.all([a.close(), b.close()]);
      await api.close();
    }
  });
});

describe('createQueueBoard with ADMIN_QUEUES_READ_ONLY=false', () => {
  it('lets an operator pause and resume a queue', async () => {
    const api = await startApi('admin-queues-writable');
    const lane = new Queue('lane-w', {
      connection: api.services.redis,
      prefix: api.deps.jobs.keys.webhooks.bullPrefix,
    });
    const board = createQueueBoard({
      basePath: '/board',
      readOnly: false,
      listQueues: () => Promise.resolve([lane]),
      logger: createLogger({ name: 'board', level: 'silent' }),
    });
    const app = express();
    app.use('/board', board.router);
    const server = await listen(app);
    try {
      const res = await fetch(`${urlOf(server)}/board/api/queues/lane-w/pause`, { method: 'PUT' });
      expect(res.status).toBe(200);
      expect(await lane.isPaused()).toBe(true);
    } finally {
      await stop(server);
      await lane.obliterate({ force: true });
      await lane.close();
      await api.close();
    }
  });
});
