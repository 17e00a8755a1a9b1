import { runMain, startService } from '@castforge/core';
import { type Server } from 'node:http';
import { createApp } from './app';
import { loadConfig } from './config';
import { buildApiDeps } from './deps';
import { answerClientErrors } from './http/client-error';

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
  // Campaigns a process left half-enqueued (it died, or Redis went away) are finished by whoever looks
  // first after their lease runs out: every API process looks now and then, and so do the workers.
  const resume = () =>
    deps.campaigns
      .resumeEnqueues()
      .catch((err: Error) => logger.warn({ err: err.message }, 'could not resume interrupted campaigns'));
  void resume();
  const resumer = setInterval(() => void resume(), 15_000);
  resumer.unref();
  shutdown.add('campaign-resumer', () => Promise.resolve(clearInterval(resumer)));
  const server = app.listen(config.PORT, () => {
    logger.info({ port: config.PORT, url: config.PUBLIC_BASE_URL }, 'api listening');
  });
  answerClientErrors(server);
  shutdown.add('http', () => closeServer(server, config.SHUTDOWN_GRACE_MS));
});
