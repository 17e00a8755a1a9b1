import {
  AppError,
  type Estimator,
  type Sealer,
  type UrlGuard,
  type ProfileRepository,
  RECORD_ONLY_FIELDS,
  bullPriority,
  costUnits,
  invalidParameters,
  laneFor,
  newJobId,
  operationSpec,
  parseInput,
  promptRequired,
  resolveGeneration,
} from '@castforge/core';
import {
  type JobQueuedResponse,
  type OperationName,
  type Profile,
  operationRoutes,
} from '@castforge/schemas';
import { type Capabilities } from './capabilities';
import { type Producer } from './producer';

export interface SubmitDeps {
  producer: Producer;
  profiles: ProfileRepository;
  estimator: Estimator;
  capabilities: Capabilities;
  maxJobsInFlight: number;
  /** Steps and guidance the backend uses when neither request nor profile sets them, for estimates. */
  backendDefaults: { steps: number; guidance: number };
  urlGuard: UrlGuard;
  /** Input image URLs are vetted like callback URLs, with their own loopback switch (INPUT_ALLOW_LOOPBACK). */
  inputGuard: UrlGuard;
  sealer: Sealer;
}

const profileGone = (profileId: string) =>
  invalidParameters(
    [
      {
        loc: ['body', 'profile_id'],
        msg: `no profile ${profileId} (it may have been deleted)`,
        type: 'not_found',
      },
    ],
    'INPUT_INVALID',
  );

/**
 * Submitting any operation of the job catalog (SPEC §3, §3b): validates, pins the profile's current version,
 * checks URLs (callback, input images) without fetching anything, and records the job as queued in the same
 * transaction that hands it to BullMQ. Merging the prompt, picking the seed and fetching input images happen
 * in the worker when the job starts, so a PATCH after submission never changes a queued job.
 */
export function createSubmitService(deps: SubmitDeps) {
  return {
    async submit(operation: OperationName, tenantId: string, body: unknown): Promise<JobQueuedResponse> {
      const spec = operationSpec(operation);
      if (!spec)
        throw new AppError('NOT_IMPLEMENTED', `${operationRoutes[operation]} is not run by this deployment`);
      // What the deployment runs is said first: a 501 or 422 for an operation never depends on the body.
      await deps.capabilities.require(operation);
      const request = parseInput(spec.request, body, 'body') as Record<string, unknown> & {
        profile_id?: string;
        callback_url?: string;
        metadata?: Record<string, unknown>;
        priority?: number;
        prompt?: string;
      };
      let profile: Profile | undefined;
      if (request.profile_id) {
        profile = await deps.profiles.get(tenantId, request.profile_id).catch((err: unknown) => {
          if (err instanceof AppError && err.code === 'NOT_FOUND') throw profileGone(request.profile_id!);
          throw err;
        });
      }
      if (spec.prompted && !request.prompt && promptRequired(profile?.adapter_snapshot)) {
        throw invalidParameters([{ loc: ['body', 'prompt'], msg: 'is required', type: 'missing' }]);
      }

      // Checked now (422 with the reason) and again by the worker, after DNS resolution, when it fetches them.
      const callbackUrl = request.callback_url;
      if (callbackUrl) await deps.urlGuard.checkAtSubmit(callbackUrl);
      // Input images (and a logo to composite) are vetted, never fetched, here: the worker fetches them when
      // the job starts. A field may hold a list (edit's input_image).
      const inputs: Record<string, string | string[]> = {};
      const inputFields = [...spec.imageFields, ...(spec.compositesLogo ? ['logo_url'] : [])];
      for (const field of inputFields) {
        const value = request[field];
        const urls = typeof value === 'string' ? [value] : Array.isArray(value) ? (value as string[]) : [];
        for (const [i, url] of urls.entries()) {
          await deps.inputGuard.checkAtSubmit(
            url,
            Array.isArray(value) ? ['body', field, i] : ['body', field],
          );
        }
        if (value !== undefined) inputs[field] = value as string | string[];
      }

      const generation: Record<string, unknown> = { ...request };
      for (const field of [...RECORD_ONLY_FIELDS, ...inputFields]) delete generation[field];
      const priority = request.priority ?? 0;
      const jobId = newJobId();
      const lane = laneFor(tenantId, priority);
      const queuedAt = Date.now();
      const resolved = resolveGeneration(
        generation,
        profile?.adapter_snapshot,
        deps.backendDefaults,
        0,
        spec.defaults,
      );
      const units = costUnits(resolved.steps, resolved.width, resolved.height);
      const { ahead } = await deps.producer.submit(
        {
          jobId,
          tenantId,
          lane,
          priority,
          orderBase: priority ? bullPriority(priority) * 1e12 : 0,
          payload: {
            kind: 'single',
            op: operation,
            request: generation,
            ...(profile && { profile: { id: profile.profile_id, version: profile.version } }),
            ...(Object.keys(inputs).length && { inputs: true as const }),
          },
          fields: {
            op: operation,
            lane,
            profile_id: profile?.profile_id,
            profile_version: profile?.version,
            queued_at: queuedAt,
            units,
            metadata: request.metadata ? JSON.stringify(request.metadata) : undefined,
            // Sealed: callback URLs carry tokens, input URLs point at faces (zero data retention, SPEC §9);
            // both go from the record when the job ends.
            callback_url: callbackUrl ? deps.sealer.seal(callbackUrl) : undefined,
            inputs: Object.keys(inputs).length ? deps.sealer.seal(JSON.stringify(inputs)) : undefined,
          },
        },
        deps.maxJobsInFlight,
      );

      return {
        job_id: jobId,
        status: 'queued',
        endpoint: operationRoutes[operation],
        estimated_time_seconds: await deps.estimator.estimateSeconds(units, ahead),
        queued_at: new Date(queuedAt).toISOString(),
      };
    },
  };
}
export type SubmitService = ReturnType<typeof createSubmitService>;
