import { AppError, type WebhookOutbox, type WebhookSecrets, parseInput } from '@castforge/core';
import { DeliveryListQuery, JobEvent } from '@castforge/schemas';
import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { requireTenant } from '../http/request-context';

const eventSchema = z.toJSONSchema(JobEvent, { target: 'draft-2020-12' });

/**
 * The tenant's webhook secret and its rotation, the delivery log of a job (ext) with redelivery, and the
 * event's JSON Schema (SPEC §6).
 */
export function webhooksRouter(deps: {
  secrets: WebhookSecrets;
  outbox: WebhookOutbox;
  guard: RequestHandler;
  /** Tells the workers a tenant's secret changed, so the next event is signed with the new one too. */
  onRotated(tenantId: string): Promise<unknown>;
}): Router {
  const router = Router();

  router.get('/event-schema', deps.guard, (_req, res) => {
    res.json(eventSchema);
  });

  router.get('/v1/secret', deps.guard, async (req, res) => {
    res.set('Cache-Control', 'no-store').json(await deps.secrets.current(requireTenant(req)));
  });

  router.post('/v1/secret/rotate', deps.guard, async (req, res) => {
    const tenantId = requireTenant(req);
    const rotated = await deps.secrets.rotate(tenantId);
    await deps.onRotated(tenantId);
    res.set('Cache-Control', 'no-store').json(rotated);
  });

  router.get('/v1/deliveries', deps.guard, async (req, res) => {
    const query = parseInput(DeliveryListQuery, req.query, 'query');
    const owner = query.job_id ?? query.campaign_id!;
    res.json({ deliveries: await deps.outbox.list(requireTenant(req), owner) });
  });

  router.post('/v1/deliveries/:delivery_id/redeliver', deps.guard, async (req, res) => {
    const id = String(req.params.delivery_id);
    if (!/^dlv_[0-9a-f]{16}$/.test(id)) throw new AppError('NOT_FOUND', `delivery ${id} not found`);
    res.status(202).json(await deps.outbox.redeliver(requireTenant(req), id));
  });

  return router;
}
