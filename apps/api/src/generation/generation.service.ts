import {
  AppError,
  type Estimator,
  type Sealer,
  type UrlGuard,
  type JobStore,
  type ProfileRepository,
  type SingleJobPayload,
  costUnits,
  invalidParameters,
  laneFor,
  newJobId,
  parseInput,
  promptRequired,
  resolveGeneration,
} from '@castforge/core';
import {
  GENERATE_IMAGE_ENDPOINT,
  GenerateImageRequest,
  type JobQueuedResponse,
  type Profile,
} from '@castforge/schemas';
import { type Queues } from './queues';

export interface GenerationDeps {
  jobs: JobStore;
  queues: Queues;
  profiles: ProfileRepository;
  estimator: Estimator;
  maxJobsInFlight: number;
  /** Steps and guidance the backend uses when neither request nor profile sets them, for estimates. */
  backendDefaults: { steps: number; guidance: number };
  urlGuard: UrlGuard;
  sealer: Sealer;
}

/**
 * POST /generate/image/v1 (SPEC §3): validates, pins the profile's current version, records the job as
 * queued and hands it to BullMQ. Merging the prompt and picking the seed happen in the worker, from the
 * pinned version, so a PATCH after submission never changes a queued job.
 */
export function createGenerationService(deps: GenerationDeps) {
  return {
    async submit(tenantId: string, body: unknown): Promise<JobQueuedResponse> {
      const request = parseInput(GenerateImageRequest, body, 'body');
      let profile: Profile | undefined;
      if (request.profile_id) {
        profile = await deps.profiles.get(tenantId, request.profile_id).catch((err: unknown) => {
          if (err instanceof AppError && err.code === 'NOT_FOUND') {
            throw invalidParameters(
              [
                {
                  loc: ['body', 'profile_id'],
                  msg: `no profile ${request.profile_id} (it may have been deleted)`,
                  type: 'not_found',
                },
              ],
              'INPUT_INVALID',
            );
          }
          throw err;
        });
      }
      if (!request.prompt && promptRequired(profile?.adapter_snapshot)) {
        throw invalidParameters([{ loc: ['body', 'prompt'], msg: 'is required', type: 'missing' }]);
      }

      const { callback_url: callbackUrl, metadata, profile_id: _profileId, ...generation } = request;
      // Checked now (422 with the reason) and again before every delivery, after DNS resolution.
      if (callbackUrl) await deps.urlGuard.checkAtSubmit(callbackUrl);
      const jobId = newJobId();
      const lane = laneFor(tenantId, request.priority);
      const queuedAt = Date.now();
      const payload: SingleJobPayload = {
        kind: 'single',
        request: generation,
        ...(profile && { profile: { id: profile.profile_id, version: profile.version } }),
      };
      const { ahead } = await deps.jobs.create(
        {
          jobId,
          tenantId,
          lane,
          priority: request.priority,
          queuedAt,
          profileId: profile?.profile_id,
          profileVersion: profile?.version,
          metadata,
          // Sealed: a callback URL often carries a token in its query string (zero data retention).
          callbackUrl: callbackUrl ? deps.sealer.seal(callbackUrl) : undefined,
        },
        deps.maxJobsInFlight,
      );
      try {
        await deps.queues.add(lane, jobId, payload, request.priority);
      } catch (err) {
        await deps.jobs.discard(jobId).catch(() => undefined);
        throw err;
      }

      const resolved = resolveGeneration(generation, profile?.adapter_snapshot, deps.backendDefaults, 0);
      return {
        job_id: jobId,
        status: 'queued',
        endpoint: GENERATE_IMAGE_ENDPOINT,
        estimated_time_seconds: await deps.estimator.estimateSeconds(
          costUnits(resolved.steps, resolved.width, resolved.height),
          ahead,
        ),
        queued_at: new Date(queuedAt).toISOString(),
      };
    },
  };
}
export type GenerationService = ReturnType<typeof createGenerationService>;
