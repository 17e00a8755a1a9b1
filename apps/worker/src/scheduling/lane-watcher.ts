import { type Logger, type RedisKeys, parseLane } from '@castforge/core';
import { type Processor, Worker, type WorkerOptions } from 'bullmq';
import { type Redis } from 'ioredis';

/**
 * One BullMQ Worker per lane (tenant × priority), created as lanes appear: at start from the set of known
 * lanes, at once when the API announces a new one, and by a periodic re-read in case an announcement was
 * missed during a reconnect. Each lane Worker hands its jobs to the shared fair scheduler.
 */
export function createLaneWatcher(deps: {
  redis: Redis;
  subscriber: Redis;
  keys: RedisKeys;
  processor: Processor;
  options: Omit<WorkerOptions, 'connection' | 'prefix'>;
  logger: Logger;
  /** Called when BullMQ gives up on a job without our processor finishing it (e.g. stalled too often). */
  onFailed(job: Parameters<Processor>[0] | undefined, err: Error): void;
}) {
  const workers = new Map<string, Worker>();
  let closing = false;
  let timer: NodeJS.Timeout | undefined;

  const ensure = (lane: string) => {
    if (closing || workers.has(lane) || !parseLane(lane)) return;
    const worker = new Worker(lane, deps.processor, {
      ...deps.options,
      connection: deps.redis,
      prefix: deps.keys.bullPrefix,
    });
    worker.on('error', (err) => deps.logger.warn({ lane, err: err.message }, 'lane worker error'));
    worker.on('failed', (job, err) => deps.onFailed(job, err));
    workers.set(lane, worker);
    deps.logger.debug({ lane }, 'serving lane');
  };

  const sync = async () => {
    for (const lane of await deps.redis.smembers(deps.keys.lanes)) ensure(lane);
  };

  const onMessage = (channel: string, lane: string) => {
    if (channel === deps.keys.lanesChannel) ensure(lane);
  };

  return {
    async start() {
      deps.subscriber.on('message', onMessage);
      await deps.subscriber.subscribe(deps.keys.lanesChannel);
      await sync();
      timer = setInterval(() => void sync().catch(() => undefined), 10_000);
      timer.unref();
    },
    /** Stops taking jobs and waits for the running ones (BullMQ's graceful close). */
    async close() {
      closing = true;
      if (timer) clearInterval(timer);
      deps.subscriber.off('message', onMessage);
      await deps.subscriber.unsubscribe(deps.keys.lanesChannel).catch(() => undefined);
      await Promise.all([...workers.values()].map((worker) => worker.close()));
    },
  };
}
