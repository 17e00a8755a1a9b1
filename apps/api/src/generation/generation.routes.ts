import {
  AppError,
  type CampaignFinalizer,
  type JobStore,
  type WebhookOutbox,
  jobEvent,
} from '@castforge/core';
import { JobId } from '@castforge/schemas';
import { type Request, type RequestHandler, Router } from 'express';
import { type Redis } from 'ioredis';
import { pathIdFrom, requireTenant } from '../http/request-context';
import { type Idempotency, idempotentCreate } from '../idempotency/idempotency';
import { type Queues } from './queues';
import { type GenerationService } from './generation.service';
import { toJobStatus } from './job-view';

export interface GenerationRouteDeps {
  service: GenerationService;
  jobs: JobStore;
  idempotency: Idempotency;
  /** Publishes cancellations to the workers. */
  redis: Redis;
  resultUrl: (key: string, expiresAtMs: number) => string;
  outbox: WebhookOutbox;
  queues: Queues;
  finalizeCampaign: CampaignFinalizer;
  guard: RequestHandler;
  onSubmitted(): void;
  onCancelled(): void;
}

const jobIdFrom = (req: Request) => pathIdFrom(req, 'job_id', JobId, 'job');

/** POST /generate/image/v1, GET …/status/:job_id and POST …/cancel/:job_id (SPEC §3, §4). */
export function generationRouter(deps: GenerationRouteDeps): Router {
  const router = Router();

  router.post(
    '/',
    deps.guard,
    idempotentCreate(
      deps.idempotency,
      (tenantId, body) => deps.service.submit(tenantId, body),
      () => deps.onSubmitted(),
    ),
  );

  router.get('/status/:job_id', deps.guard, async (req, res) => {
    const jobId = jobIdFrom(req);
    const record = await deps.jobs.read(requireTenant(req), jobId);
    if (!record) throw new AppError('NOT_FOUND', `job ${jobId} not found`);
    res.json(toJobStatus(record, deps.resultUrl));
  });

  router.post('/cancel/:job_id', deps.guard, async (req, res) => {
    const tenantId = requireTenant(req);
    const jobId = jobIdFrom(req);
    const outcome = await deps.jobs.cancel(tenantId, jobId);
    if (!outcome.changed) {
      if (!outcome.previous) throw new AppError('NOT_FOUND', `job ${jobId} not found`);
      throw new AppError(
        'CONFLICT',
        `job ${jobId} already ended (${outcome.previous}); only queued or running jobs can be cancelled`,
      );
    }
    deps.onCancelled();
    // The worker holding the job (waiting for a GPU or running on one) lets go of it at once.
    await deps.redis.publish(deps.jobs.keys.cancelChannel, jobId);
    const record = await deps.jobs.read(tenantId, jobId);
    if (!record) throw new AppError('NOT_FOUND', `job ${jobId} not found`);
    if (outcome.previous !== 'processing' && record.lane) {
      await deps.queues
        .scrub(record.lane, jobId)
        .catch((err: Error) => req.log.warn({ err: err.message }, 'could not scrub job'));
    }
    // `cancelled` is a terminal status too: its webhook event (ext) goes out like the others.
    if (outcome.callbackUrl) {
      await deps.outbox.enqueue({
        tenantId,
        sealedUrl: outcome.callbackUrl,
        event: jobEvent(record, deps.resultUrl),
      });
    }
    if (outcome.campaignDone && outcome.campaignId) await deps.finalizeCampaign(tenantId, outcome.campaignId);
    res.status(202).json(toJobStatus(record, deps.resultUrl));
  });

  return router;
}
