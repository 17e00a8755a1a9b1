import { parseInput } from '@castforge/core';
import { CampaignId, CampaignJobsQuery, CampaignListQuery } from '@castforge/schemas';
import { type Request, type RequestHandler, Router } from 'express';
import { pathIdFrom, requireTenant } from '../http/request-context';
import { type Idempotency, idempotentCreate } from '../idempotency/idempotency';
import { type CampaignService } from './campaigns.service';

const campaignIdFrom = (req: Request) => pathIdFrom(req, 'campaign_id', CampaignId, 'campaign');

/** /campaigns/v1 (SPEC §7, ext). */
export function campaignsRouter(deps: {
  service: CampaignService;
  idempotency: Idempotency;
  guard: RequestHandler;
  onSubmitted(jobs: number): void;
}): Router {
  const router = Router();

  router.post(
    '/',
    deps.guard,
    idempotentCreate(
      deps.idempotency,
      (tenantId, body) => deps.service.create(tenantId, body),
      (created) => deps.onSubmitted(created.job_count),
    ),
  );

  router.get('/', deps.guard, async (req, res) => {
    res.json(await deps.service.list(requireTenant(req), parseInput(CampaignListQuery, req.query, 'query')));
  });

  router.get('/:campaign_id', deps.guard, async (req, res) => {
    res.json(await deps.service.get(requireTenant(req), campaignIdFrom(req)));
  });

  router.get('/:campaign_id/jobs', deps.guard, async (req, res) => {
    const id = campaignIdFrom(req);
    res.json(
      await deps.service.jobs(requireTenant(req), id, parseInput(CampaignJobsQuery, req.query, 'query')),
    );
  });

  router.post('/:campaign_id/cancel', deps.guard, async (req, res) => {
    res.status(202).json(await deps.service.cancel(requireTenant(req), campaignIdFrom(req)));
  });

  return router;
}
