import {
  type Connection,
  type JobStore,
  type KeyStore,
  type LaneQueues,
  type Logger,
  type ProfileRepository,
  type Redis,
  type Registry,
  type ResultStore,
  type WebhookOutbox,
  type WebhookSecrets,
  catalog,
} from '@castforge/core';
import {
  GENERATE_IMAGE_ENDPOINT,
  type OperationName,
  buildOpenApiDocument,
  routes,
} from '@castforge/schemas';
import { type Queue } from 'bullmq';
import express, { type Express } from 'express';
import { adminAuthentication } from './admin/admin-auth';
import { createQueueBoard } from './admin/queue-board';
import { campaignsRouter } from './campaigns/campaigns.routes';
import { type CampaignService } from './campaigns/campaigns.service';
import { type ApiConfig } from './config';
import { consoleRouter } from './console/console.routes';
import { type Capabilities } from './jobs/capabilities';
import { type JobView } from './jobs/job-view';
import { jobsRouter } from './jobs/jobs.routes';
import { type SubmitService } from './jobs/submit.service';
import { authenticate } from './http/auth';
import { compose } from './http/compose';
import { errorHandler, notFoundHandler } from './http/errors';
import { jsonBody } from './http/json-body';
import { observeRequests } from './http/observe';
import { type Idempotency } from './idempotency/idempotency';
import { createRateLimits } from './limits/rate-limit';
import { type JobMetrics } from './ops/job-metrics';
import { opsRouter } from './ops/ops.routes';
import { profilesRouter } from './profiles/profiles.routes';
import { resultsRouter } from './results/results.routes';
import { methodNotAllowed } from './surface/method-not-allowed';
import { surfaceRouter } from './surface/surface.routes';
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
  queues: LaneQueues;
  submit: SubmitService;
  view: JobView;
  capabilities: Capabilities;
  idempotency: Idempotency;
  results: ResultStore;
  resultSecret: Buffer;
  resultUrl: (key: string, expiresAtMs: number) => string;
  metrics: JobMetrics;
  outbox: WebhookOutbox;
  webhookSecrets: WebhookSecrets;
  campaigns: CampaignService;
  /** The queues Bull Board shows at /admin/queues, asked again as they come and go; webhooks if absent. */
  listQueues?: () => Promise<Queue[]>;
}

/** Routes and middleware, no listening: tests mount this on port 0 against the real services. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', deps.config.TRUST_PROXY);

  app.use(observeRequests(app, deps));

  const limits = createRateLimits(deps);
  const guard = compose(limits.authentication(authenticate(deps.keys)), limits.perKey);
  const body = jsonBody(deps.config.MAX_BODY_BYTES);
  // Every operation of the job catalog at its route, with the same submit, status and cancel. First: these are
  // the hot paths (a submit or a poll walks no other route's layers), and they parse their own bodies.
  for (const [operation, spec] of Object.entries(catalog)) {
    app.use(
      spec.route,
      jobsRouter(operation as OperationName, spec.route, {
        submit: deps.submit,
        jobs: deps.jobs,
        view: deps.view,
        idempotency: deps.idempotency,
        guard,
        body,
        onSubmitted: (endpoint) => deps.metrics.submitted.inc({ endpoint }),
        onCancelled: (endpoint) => deps.metrics.ended.inc({ endpoint, outcome: 'cancelled' }),
      }),
    );
  }

  app.use(['/healthz', '/readyz', '/metrics', '/openapi.json'], limits.publicRoutes);
  const openapi = buildOpenApiDocument({ serverUrl: deps.config.PUBLIC_BASE_URL, version: '0.1.0' });
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use(opsRouter(deps));
  app.use('/results/v1', resultsRouter({ store: deps.results, secret: deps.resultSecret }));
  app.use('/console', consoleRouter());

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

  // Before the body parser: what these answer never depends on the body (an upload is multipart).
  app.use(
    surfaceRouter({
      jobs: deps.jobs,
      capabilities: deps.capabilities,
      guard,
      gpuCostPerSecondUsd: deps.config.GPU_COST_PER_SECOND_USD,
    }),
  );
  app.use(body);
  app.use('/profiles/v1', profilesRouter(deps.profiles, guard));
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

  app.use(methodNotAllowed(routes));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
