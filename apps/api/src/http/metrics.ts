import { type Registry } from '@castforge/core';
import { type Request, type RequestHandler } from 'express';
import { Histogram } from 'prom-client';

/**
 * Records the full pattern of the route that matches (`/profiles/v1/:profile_id`) at the moment the
 * router sets `req.route`, when `req.baseUrl` is still the router's mount path. Read later, on
 * `finish`, the mount path is gone whenever an error left the router (the router restores `baseUrl`
 * on the way out), and a 404 of `/profiles/v1/:profile_id` would be counted as `/:profile_id`.
 */
function trackRoutePattern(req: Request): () => string | undefined {
  let route: unknown = req.route;
  let pattern: string | undefined;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: unknown) => {
      route = value;
      const path = (value as { path?: unknown } | undefined)?.path;
      if (typeof path === 'string') {
        const full = `${req.baseUrl}${path}`;
        pattern = full.length > 1 ? full.replace(/\/+$/, '') : full;
      }
    },
  });
  return () => pattern;
}

/**
 * `http_request_duration_seconds{method,route,status_code}` with the route as its pattern
 * (`/profiles/v1/:profile_id`), so label values stay bounded whatever ids clients send.
 */
export function httpMetrics(registry: Registry): RequestHandler {
  const histogram = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route pattern',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return (req, res, next) => {
    const end = histogram.startTimer();
    const pattern = trackRoutePattern(req);
    res.once('finish', () => {
      end({ method: req.method, route: pattern() ?? 'unmatched', status_code: String(res.statusCode) });
    });
    next();
  };
}
