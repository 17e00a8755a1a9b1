import { runMain, startService } from '@castforge/core';
import { type Server } from 'node:http';
import { createApp } from './app';
import { loadConfig } from './config';
import { buildApiDeps } from './deps';

function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

runMain('api', async () => {
  const config = loadConfig();
  const {
    logger,
    shutdown,
    registry,
    redis: clients,
    mongo,
  } = await startService('api', config, ['command']);
  const redis = clients.command;

  const deps = await buildApiDeps(config, { redis, mongo, logger, registry });
  shutdown.add('queues', () => Promise.all([deps.queues.close(), deps.outbox.close()]));
  const app = createApp(deps);
  // Campaigns a previous API process left half-enqueued are finished in the background.
  void deps.campaigns
    .resumeEnqueues()
    .catch((err: Error) => logger.error({ err: err.message }, 'could not resume interrupted campaigns'));
  const server = app.listen(config.PORT, () => {
    logger.info({ port: config.PORT, url: config.PUBLIC_BASE_URL }, 'api listening');
  });
  shutdown.add('http', () => closeServer(server, config.SHUTDOWN_GRACE_MS));
});
