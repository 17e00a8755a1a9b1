import { type Connection } from 'mongoose';
import { Gauge, type Registry } from 'prom-client';
import { readiness } from '../mongo/connection';

/**
 * `dependency_up{dependency="redis"|"mongodb"}`: 1 while the dependency answers, 0 when it does not,
 * checked at each scrape the way /readyz checks it (a Redis PING, a MongoDB ping within 800 ms). An
 * alert on it says which dependency is down, where `up` only says the process could not be scraped.
 */
export function registerReadinessGauge(
  registry: Registry,
  deps: { redis: { ping(): Promise<unknown> }; mongo: Connection },
): void {
  new Gauge({
    name: 'dependency_up',
    help: 'Whether a dependency answers at scrape time (1) or not (0), by dependency (redis, mongodb)',
    labelNames: ['dependency'] as const,
    registers: [registry],
    async collect() {
      const { body } = await readiness(deps.redis, deps.mongo);
      this.set({ dependency: 'redis' }, body.checks.redis === 'ok' ? 1 : 0);
      this.set({ dependency: 'mongodb' }, body.checks.mongodb === 'ok' ? 1 : 0);
    },
  });
}
