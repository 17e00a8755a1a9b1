import { AppError } from '@castforge/core';
import { type RequestHandler } from 'express';

/**
 * A known path asked with a method it does not take → 405 with `Allow` (SPEC §8), instead of the 404 an
 * unknown path gets. `routes` are the documented routes (the OpenAPI table), `{param}` matching one segment.
 */
export function methodNotAllowed(routes: readonly { method: string; path: string }[]): RequestHandler {
  const patterns = new Map<string, { re: RegExp; methods: Set<string> }>();
  for (const route of routes) {
    let entry = patterns.get(route.path);
    if (!entry) {
      const source = route.path
        .split('/')
        .map((part) => (/^\{[^}]+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
        .join('/');
      entry = { re: new RegExp(`^${source}/?$`), methods: new Set() };
      patterns.set(route.path, entry);
    }
    entry.methods.add(route.method.toUpperCase());
    if (route.method.toUpperCase() === 'GET') entry.methods.add('HEAD');
  }
  return (req, res, next) => {
    const allowed = new Set<string>();
    for (const { re, methods } of patterns.values())
      if (re.test(req.path)) methods.forEach((m) => allowed.add(m));
    if (!allowed.size || allowed.has(req.method)) return next();
    const allow = [...allowed].sort().join(', ');
    res.setHeader('Allow', allow);
    next(new AppError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; use ${allow}`));
  };
}
