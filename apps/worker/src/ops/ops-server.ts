import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import {
  type Connection,
  type Redis,
  type Registry,
  readiness,
  registerReadinessGauge,
} from '@castforge/core';

/**
 * The worker's operations endpoints, on a plain node:http server (the worker has no other HTTP surface):
 * `/healthz` (alive), `/readyz` (Redis and MongoDB answer) and `/metrics` (Prometheus text, with
 * `dependency_up` for Redis and MongoDB).
 */
export async function startOpsServer(deps: {
  port: number;
  redis: Redis;
  mongo: Connection;
  registry: Registry;
}): Promise<{ port: number; close(): Promise<void> }> {
  registerReadinessGauge(deps.registry, deps);
  const server = createServer((req, res) => {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(body);
    };
    void (async () => {
      if (req.method !== 'GET') return send(405, 'application/json', '{"status":"method not allowed"}');
      switch (req.url?.split('?')[0]) {
        case '/healthz':
          return send(200, 'application/json', '{"status":"ok"}');
        case '/readyz': {
          const { ready, body } = await readiness(deps.redis, deps.mongo);
          return send(ready ? 200 : 503, 'application/json', JSON.stringify(body));
        }
        case '/metrics':
          return send(200, deps.registry.contentType, await deps.registry.metrics());
        default:
          return send(404, 'application/json', '{"status":"not found"}');
      }
    })().catch(() => send(500, 'application/json', '{"status":"error"}'));
  });
  await new Promise<void>((resolve) => server.listen(deps.port, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
