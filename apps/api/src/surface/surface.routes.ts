import { AppError, type JobStore, invalidParameters } from '@castforge/core';
import {
  type OperationName,
  UNSUPPORTED_ROUTES,
  type UserDetails,
  operationRoutes,
} from '@castforge/schemas';
import { type RequestHandler, Router } from 'express';
import { requireTenant } from '../http/request-context';
import { type Capabilities } from '../jobs/capabilities';

/**
 * The rest of the ImagePipeline surface the official client can call (SPEC §3b), mounted BEFORE the JSON
 * body parser so that what these answer never depends on the body: an upload (multipart) is refused with
 * 422 saying why, the endpoints whose output is not an image are 501, and GET /v1/user/details says who the
 * key is, what the deployment runs and what the tenant used this month.
 */
export function surfaceRouter(deps: {
  jobs: JobStore;
  capabilities: Capabilities;
  guard: RequestHandler;
  gpuCostPerSecondUsd?: number;
}): Router {
  const router = Router();

  router.post('/upload/image/v1', deps.guard, () => {
    throw invalidParameters(
      [
        {
          loc: ['body'],
          msg:
            'castforge never stores input images (zero data retention): pass the image as a URL you host, ' +
            'e.g. a pre-signed link to your own bucket, in the job request itself',
          type: 'upload_not_supported',
        },
      ],
      'INPUT_INVALID',
    );
  });

  for (const route of UNSUPPORTED_ROUTES) {
    router.post(route, deps.guard, () => {
      throw new AppError('NOT_IMPLEMENTED', `${route} is not run by castforge (it makes no images)`);
    });
  }

  router.get('/v1/user/details', deps.guard, async (req, res) => {
    const tenantId = requireTenant(req);
    const [usage, running] = await Promise.all([deps.jobs.usage(tenantId), deps.capabilities.operations()]);
    const body: UserDetails = {
      tenant_id: tenantId,
      key: { key_id: req.principal!.keyId, name: req.principal!.keyName },
      plan: 'self-hosted',
      balance_remaining_usd: null,
      operations: [...running.entries()].map(([operation, backends]) => ({
        operation: operation as OperationName,
        endpoint: operationRoutes[operation as OperationName],
        backends: [...backends].sort(),
      })),
      usage: {
        month: new Date().toISOString().slice(0, 7),
        jobs: usage.jobs,
        gpu_seconds: usage.gpuSeconds,
        cost_usd:
          deps.gpuCostPerSecondUsd === undefined
            ? null
            : Math.round(usage.gpuSeconds * deps.gpuCostPerSecondUsd * 1e6) / 1e6,
      },
    };
    res.json(body);
  });

  return router;
}
