import { AppError, type JobStore } from '@castforge/core';
import { JobId, type OperationName } from '@castforge/schemas';
import { type Request, type RequestHandler, Router } from 'express';
import { pathIdFrom, requireTenant } from '../http/request-context';
import { type Idempotency, idempotentCreate } from '../idempotency/idempotency';
import { type JobView } from './job-view';
import { type SubmitService } from './submit.service';

export interface JobRouteDeps {
  submit: SubmitService;
  jobs: JobStore;
  view: JobView;
  idempotency: Idempotency;
  guard: RequestHandler;
  /** The JSON body parser: job routes come before the app's own (they are the hot paths). */
  body: RequestHandler;
  onSubmitted(endpoint: string): void;
  onCancelled(endpoint: string): void;
}

const jobIdFrom = (req: Request) => pathIdFrom(req, 'job_id', JobId, 'job');

/**
 * One operation of the job catalog at its route (SPEC §3, §3b, §4): submit, status and cancel. Every
 * operation gets the same three, from the same code; what differs is the catalog row.
 */
export function jobsRouter(operation: OperationName, route: string, deps: JobRouteDeps): Router {
  const router = Router();

  router.post(
    '/',
    deps.body,
    deps.guard,
    idempotentCreate(
      deps.idempotency,
      (tenantId, body) => deps.submit.submit(operation, tenantId, body),
      () => deps.onSubmitted(route),
    ),
  );

  // A status is one script call whatever the queue depth; any route reads any of the tenant's jobs.
  router.get('/status/:job_id', deps.guard, async (req, res) => {
    const jobId = jobIdFrom(req);
    const record = await deps.jobs.read(requireTenant(req), jobId);
    if (!record) throw new AppError('NOT_FOUND', `job ${jobId} not found`);
    res.json(await deps.view.status(record));
  });

  // The script that cancels also tells the worker holding the job, drops the request waiting in BullMQ, and
  // records the job.cancelled event and the campaign's counts: nothing here can be left half done.
  router.post('/cancel/:job_id', deps.body, deps.guard, async (req, res) => {
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
    deps.onCancelled(route);
    const record = await deps.jobs.read(tenantId, jobId);
    if (!record) throw new AppError('NOT_FOUND', `job ${jobId} not found`);
    res.status(202).json(await deps.view.status(record));
  });

  return router;
}
