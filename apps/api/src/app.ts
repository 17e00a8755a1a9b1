import {
  type Connection,
  type JobStore,
  type KeyStore,
  type Logger,
  type ProfileRepository,
  type Redis,
  type Registry,
  type ResultStore,
  type CampaignFinalizer,
  type WebhookOutbox,
  type WebhookSecrets,
  redactUrl,
} from '@castforge/core';
import { GENERATE_IMAGE_ENDPOINT, buildOpenApiDocument } from '@castforge/schemas';
import { type Queue } from 'bullmq';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import { adminAuthentication } from './admin/admin-auth';
import { createQueueBoard } from './admin/queue-board';
import { campaignsRouter } from './campaigns/campaigns.routes';
import { type CampaignService } from './campaigns/campaigns.service';
import { type ApiConfig } from './config';
import { generationRouter } from './generation/generation.routes';
import { type GenerationService } from './generation/generation.service';
import { type Queues } from './generation/queues';
import { authenticate } from './http/auth';
import { compose } from './http/compose';
import { errorHandler, notFoundHandler } from './http/errors';
import { jsonBody } from './http/json-body';
import { httpMetrics } from './http/metrics';
import { echoRequestId, requestIdFor } from './http/request-context';
import { type Idempotency } from './idempotency/idempotency';
import { createRateLimits } from './limits/rate-limit';
import { type JobMetrics } from './ops/job-metrics';
import { opsRouter } from './ops/ops.routes';
import { profilesRouter } from './profiles/profiles.routes';
import { resultsRouter } from './results/results.routes';
import { webhooksRouter } from './webhooks/webhooks.routes';

export interface AppDeps {
  config: ApiConfig;
  logger: Logger;
  registry: Registry;
  redis: Redis;
  mongo: Connection;
  keys: KeyStore;
  profiles: ProfileRepository;
  jobs: JobStore;
  queues: Queues;
  generation: GenerationService;
  idempotency: Idempotency;
  results: ResultStore;
  resultSecret: Buffer;
  resultUrl: (key: string, expiresAtMs: number) => string;
  metrics: JobMetrics;
  outbox: WebhookOutbox;
  webhookSecrets: WebhookSecrets;
  campaigns: CampaignService;
  finalizeCampaign: CampaignFinalizer;
  /** The queues Bull Board shows at /admin/queues, asked again as they come and go; webhooks if absent. */
  listQueues?: () => Promise<Queue[]>;
}

/** Routes and middleware, no listening: tests mount this on port 0 against the real services. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', deps.config.TRUST_PROXY);

  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req) => requestIdFor(req as express.Request),
      customLogLevel: (_req, res, err) =>
        err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug',
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      wrapSerializers: false,
    }),
  );
  app.use(echoRequestId);
  app.use(httpMetrics(deps.registry));

  const limits = createRateLimits(deps);
  app.use(['/healthz', '/readyz', '/metrics', '/openapi.json'], limits.publicRoutes);
  const openapi = buildOpenApiDocument({ serverUrl: deps.config.PUBLIC_BASE_URL, version: '0.1.0' });
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use(opsRouter(deps));
  app.use('/results/v1', resultsRouter({ store: deps.results, secret: deps.resultSecret }));

  if (deps.config.ADMIN_API_KEYS.length) {
    const board = createQueueBoard({
      basePath: '/admin/queues',
      readOnly: deps.config.ADMIN_QUEUES_READ_ONLY,
      listQueues: deps.listQueues ?? (() => Promise.resolve([deps.outbox.queue])),
      logger: deps.logger,
    });
    app.use(
      '/admin/queues',
      limits.authentication(adminAuthentication(deps.config.ADMIN_API_KEYS)),
      board.router,
    );
  }

  app.use(jsonBody(deps.config.MAX_BODY_BYTES));
  const guard = compose(limits.authentication(authenticate(deps.keys)), limits.perKey);
  app.use('/profiles/v1', profilesRouter(deps.profiles, guard));
  app.use(
    GENERATE_IMAGE_ENDPOINT,
    generationRouter({
      service: deps.generation,
      jobs: deps.jobs,
      idempotency: deps.idempotency,
      redis: deps.redis,
      resultUrl: deps.resultUrl,
      outbox: deps.outbox,
      queues: deps.queues,
      finalizeCampaign: deps.finalizeCampaign,
      guard,
      onSubmitted: () => deps.metrics.submitted.inc({ endpoint: GENERATE_IMAGE_ENDPOINT }),
      onCancelled: () => deps.metrics.ended.inc({ endpoint: GENERATE_IMAGE_ENDPOINT, outcome: 'cancelled' }),
    }),
  );

  app.use(
    '/campaigns/v1',
    campaignsRouter({
      service: deps.campaigns,
      idempotency: deps.idempotency,
      guard,
      onSubmitted: (jobs) => deps.metrics.submitted.inc({ endpoint: GENERATE_IMAGE_ENDPOINT }, jobs),
    }),
  );
  app.use(
    '/webhooks',
    webhooksRouter({
      secrets: deps.webhookSecrets,
      outbox: deps.outbox,
      guard,
      onRotated: (tenantId) => deps.redis.publish(deps.jobs.keys.secretsChannel, tenantId),
    }),
  );

  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
