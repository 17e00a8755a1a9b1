import { createLogger, createRedis } from '@castforge/core';
import { outboxPending } from '../redis-audit';
import { sleep } from '../support/time';
import { type World } from '../world/world';
import { queueGauge } from './read-back';

/**
 * Waits, faults off, until no job is live (queue_jobs on /metrics), no job or campaign ending waits in an
 * outbox, no webhook delivery is waiting, and the receiver has been quiet for a second, or the deadline
 * passes. True when it drained.
 */
export async function drain(
  world: World,
  ms: number,
  alsoWaitFor: Promise<unknown>,
  step: (line: string) => void,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  let fuzzDone = false;
  void alsoWaitFor.finally(() => (fuzzDone = true));
  let lastReport = 0;
  // Fail-fast: while Redis cannot answer, the outbox is unknown and the drain goes on waiting.
  const admin = createRedis(world.redis.url, 'command', createLogger({ name: 'chaos', level: 'silent' }));
  try {
    while (Date.now() < deadline) {
      const gauge = await queueGauge(world).catch(() => null);
      const outbox = await outboxPending(admin, world.prefix).catch(() => null);
      const live =
        gauge && outbox !== null
          ? outbox +
            [
              'generate.queued',
              'generate.pending',
              'generate.processing',
              'webhooks.waiting',
              'webhooks.active',
              'webhooks.delayed',
            ].reduce((n, k) => n + (gauge[k] ?? 0), 0)
          : -1;
      const lastDelivery = world.receiver.deliveries.at(-1)?.at ?? 0;
      if (live === 0 && fuzzDone && Date.now() - lastDelivery > 1000) return true;
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        step(
          `draining: ${gauge ? `outbox ${outbox ?? '?'}; generate queued ${gauge['generate.queued']}, processing ${gauge['generate.processing']}, pending ${gauge['generate.pending']}; webhooks waiting ${gauge['webhooks.waiting']}, active ${gauge['webhooks.active']}, delayed ${gauge['webhooks.delayed']}` : '/metrics unreadable'}${fuzzDone ? '' : '; fuzzing'}`,
        );
      }
      await sleep(500);
    }
    return false;
  } finally {
    admin.disconnect();
  }
}
