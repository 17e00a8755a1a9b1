import { existsSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '@castforge/core';
import express, { Router } from 'express';

/** Where `npm run build` puts the console (apps/console/dist), from apps/api/src/console or apps/api/dist/console. */
export const CONSOLE_DIR = path.resolve(__dirname, '../../../console/dist');

/**
 * Only this origin's scripts and styles; images and fetches may go to any http(s) origin because signed
 * result links live under PUBLIC_BASE_URL or a bucket, which need not be this origin.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob: http: https:",
  "connect-src 'self' http: https:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The casting console (apps/console): its static files, and index.html for every other path under
 * /console so the app's own routes survive a reload. It needs no API key: the page asks for one.
 */
export function consoleRouter(dir: string = CONSOLE_DIR): Router {
  const router = Router();
  const index = path.join(dir, 'index.html');
  router.use((_req, res, next) => {
    res.set({
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    });
    next();
  });
  // Vite names assets by content hash, so they never change under a name.
  router.use(
    '/assets',
    express.static(path.join(dir, 'assets'), { immutable: true, maxAge: '365d', fallthrough: false }),
  );
  router.use(express.static(dir, { index: false }));
  router.get('/{*path}', (_req, res) => {
    if (!existsSync(index)) throw new AppError('NOT_FOUND', 'the console is not built: run `npm run build`');
    res.set('Cache-Control', 'no-cache').sendFile(index);
  });
  return router;
}
