import {
  type Connection,
  type Redis,
  type Registry,
  readiness,
  registerReadinessGauge,
} from '@castforge/core';
import { Router } from 'express';

/** Liveness, readiness (SPEC §10) and Prometheus metrics (with `dependency_up`): no API key, never cached. */
export function opsRouter(deps: { redis: Redis; mongo: Connection; registry: Registry }): Router {
  const router = Router();
  registerReadinessGauge(deps.registry, deps);

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const { ready, body } = await readiness(deps.redis, deps.mongo);
    res.status(ready ? 200 : 503).json(body);
  });

  router.get('/metrics', async (_req, res) => {
    res.set('Content-Type', deps.registry.contentType).send(await deps.registry.metrics());
  });

  return router;
}
