import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '@castforge/core';
import express from 'express';
import request from 'supertest';
import { errorHandler, notFoundHandler } from '../http/errors';
import { consoleRouter } from './console.routes';

describe('GET /console', () => {
  let dir: string;
  const appFor = (root: string) => {
    const app = express();
    app.use('/console', consoleRouter(root));
    app.use(notFoundHandler);
    app.use(errorHandler(createLogger({ name: 'console-test', level: 'silent' })));
    return app;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'castforge-console-'));
    await mkdir(path.join(dir, 'assets'));
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><div id="app"></div>');
    await writeFile(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('sends /console to /console/', async () => {
    const res = await request(appFor(dir)).get('/console');
    expect([res.status, res.headers.location]).toEqual([301, '/console/']);
  });

  it.each(['/console/', '/console/campaigns/camp_0123456789abcdef', '/console/jobs/job_1'])(
    'answers %s with the app page, a strict CSP and no caching, without an API key',
    async (url) => {
      const res = await request(appFor(dir)).get(url);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('<div id="app">');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['cache-control']).toBe('no-cache');
    },
  );

  it('serves hashed assets as immutable, and a missing asset as 404 rather than the page', async () => {
    const asset = await request(appFor(dir)).get('/console/assets/index-abc123.js');
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect(asset.headers['cache-control']).toContain('immutable');
    const missing = await request(appFor(dir)).get('/console/assets/gone.js');
    expect(missing.status).toBe(404);
    expect(missing.text).not.toContain('<div id="app">');
  });

  it('says plainly that the console is not built when its files are missing', async () => {
    const res = await request(appFor(path.join(dir, 'nowhere'))).get('/console/');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({
      error_code: 'NOT_FOUND',
      message: expect.stringContaining('npm run build'),
    });
  });
});
