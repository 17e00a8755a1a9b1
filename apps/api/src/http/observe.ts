import { type Logger, type Registry, redactUrl } from '@castforge/core';
import { type Express, type Request, type RequestHandler, type Response } from 'express';
import { Histogram } from 'prom-client';
import { requestIdFor } from './request-context';

declare module 'express-serve-static-core' {
  interface Request {
    /** The request's id: the caller's X-Request-Id if sane, else a new one; echoed on every response. */
    id: string;
    /**
     * A logger bound to this request (its id, method and URL, and its tenant once authenticated), made the
     * first time something logs: a request that writes no line costs no child logger.
     */
    log: Logger;
  }
}

/** Per-request state kept on the request under one symbol, so reading it never walks a prototype chain. */
const STATE = Symbol('castforge.request');
interface RequestState {
  log?: Logger;
  route?: unknown;
  /** The full route pattern (`/profiles/v1/:profile_id`), recorded when the router sets `req.route`. */
  pattern?: string;
}
type Observed = Request & { [STATE]?: RequestState };
const stateOf = (req: Observed): RequestState => (req[STATE] ??= {});

/**
 * Accessors on the app's request prototype, installed once: `req.log` (lazy, see above) and `req.route`,
 * whose setter records the full pattern while `req.baseUrl` is still the router's mount path. Read later, on
 * `finish`, the mount path is gone whenever an error left the router (the router restores `baseUrl` on the way
 * out), and a 404 of `/profiles/v1/:profile_id` would be counted as `/:profile_id`.
 */
function installRequestAccessors(app: Express, logger: Logger) {
  Object.defineProperties(app.request, {
    log: {
      configurable: true,
      get(this: Observed) {
        const state = stateOf(this);
        return (state.log ??= logger.child({
          req: { id: this.id, method: this.method, url: redactUrl(this.originalUrl) },
          ...(this.principal && { tenant_id: this.principal.tenantId }),
        }));
      },
      set(this: Observed, value: Logger) {
        stateOf(this).log = value;
      },
    },
    route: {
      configurable: true,
      get(this: Observed) {
        return this[STATE]?.route;
      },
      set(this: Observed, value: unknown) {
        const state = stateOf(this);
        state.route = value;
        const path = (value as { path?: unknown } | undefined)?.path;
        if (typeof path === 'string') {
          const full = `${this.baseUrl}${path}`;
          state.pattern = full.length > 1 ? full.replace(/\/+$/, '') : full;
        }
      },
    },
  });
}

const levelFor = (status: number) => (status >= 500 ? 'error' : status >= 400 ? 'info' : 'debug');

/**
 * What the API observes of every request, in one middleware with one listener: the request id (echoed as
 * X-Request-Id), `http_request_duration_seconds{method,route,status_code}` with the route as its pattern (so
 * label values stay bounded whatever ids clients send), and a `request completed` line at `error` for 5xx,
 * `info` for 4xx, `debug` otherwise (and `request aborted` at `debug` when the client hung up first), written
 * only when that level is on.
 */
export function observeRequests(app: Express, deps: { logger: Logger; registry: Registry }): RequestHandler {
  installRequestAccessors(app, deps.logger);
  const histogram = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route pattern',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [deps.registry],
  });

  const settled = (req: Observed, res: Response, started: number) => {
    const finished = res.writableFinished;
    const seconds = (performance.now() - started) / 1000;
    if (finished) {
      histogram.observe(
        { method: req.method, route: req[STATE]?.pattern ?? 'unmatched', status_code: res.statusCode },
        seconds,
      );
    }
    // A client that hangs up before its answer is routine (a load test's end, a timeout): debug, not info.
    const level = finished ? levelFor(res.statusCode) : 'debug';
    if (!deps.logger.isLevelEnabled(level)) return;
    req.log[level](
      { res: { statusCode: res.statusCode }, responseTime: Math.round(seconds * 1000) },
      finished ? 'request completed' : 'request aborted',
    );
  };

  return (req, res, next) => {
    const started = performance.now();
    req.id = requestIdFor(req);
    res.setHeader('X-Request-Id', req.id);
    res.once('close', () => settled(req, res, started));
    next();
  };
}
