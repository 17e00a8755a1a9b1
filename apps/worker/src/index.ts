import { runMain, startService } from '@castforge/core';
import { loadConfig } from './config';
import { startOpsServer } from './ops/ops-server';
import { createWorkerPool } from './pool';

runMain('worker', async () => {
  const config = loadConfig();
  const { logger, shutdown, registry, redis, mongo } = await startService('worker', config, [
    'worker',
    'subscriber',
  ]);

  const ops = await startOpsServer({
    port: config.WORKER_METRICS_PORT,
    redis: redis.worker,
    mongo,
    registry,
  });
  shutdown.add('ops-http', () => ops.close());

  const pool = await createWorkerPool(config, {
    redis: redis.worker,
    subscriber: redis.subscriber,
    mongo,
    logger,
    registry,
  });
  await pool.start();
  shutdown.add('worker-pool', () => pool.close());
  logger.info({ metrics_port: ops.port, worker_id: config.WORKER_ID }, 'worker ready');
});
