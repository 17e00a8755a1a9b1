import {
  type CampaignRepository,
  type FinishResult,
  type GenerationInput,
  type JobPayload,
  type Redis,
  type RedisKeys,
} from '@castforge/core';
import { type AdapterSnapshot } from '@castforge/schemas';
import { type ProfileCache } from '../profiles/profile-cache';
import { JobFailure } from './failures';

/** What a job runs with, worked out before it takes a GPU slot. */
export interface Plan {
  /** Nothing to run: the job's campaign was cancelled while it waited. */
  skip?: boolean;
  input: GenerationInput;
  /** The pinned profile version's snapshot, when the job names a profile. */
  snapshot?: AdapterSnapshot;
  /** Campaign variant index (SPEC §7): a `fixed` profile's variant i uses fixed_seed + i. */
  variant: number;
  queuedAt?: number;
}

export type PlanJob = (tenantId: string, payload: JobPayload) => Promise<Plan>;

export interface JobEnded extends FinishResult {
  jobId: string;
  tenantId: string;
}

export function createPlanner(deps: {
  profiles: ProfileCache;
  campaigns: Pick<CampaignRepository, 'spec'>;
  redis: Redis;
  keys: RedisKeys;
}): PlanJob {
  const pinned = async (tenantId: string, profileId: string, version: number) => {
    const doc = await deps.profiles.get(tenantId, profileId, version);
    if (!doc) throw new JobFailure('INPUT_INVALID', `profile ${profileId} version ${version} does not exist`);
    return doc.snapshot;
  };

  return async (tenantId, payload) => {
    if (payload.kind === 'single') {
      const snapshot = payload.profile
        ? await pinned(tenantId, payload.profile.id, payload.profile.version)
        : undefined;
      return { input: payload.request, snapshot, variant: 0 };
    }
    // A campaign job carries only its campaign and index; the submission is read once per process.
    const [spec, cancelled] = await Promise.all([
      deps.campaigns.spec(tenantId, payload.c),
      deps.redis.hget(deps.keys.campaign(payload.c), 'is_cancelled'),
    ]);
    if (cancelled === '1') return { skip: true, input: {}, variant: 0 };
    if (!spec) throw new JobFailure('INPUT_INVALID', `campaign ${payload.c} does not exist`);
    const perProfile = spec.scenes.length * spec.variants;
    const profile = spec.profiles[Math.floor(payload.i / perProfile)];
    const scene = spec.scenes[Math.floor(payload.i / spec.variants) % spec.scenes.length];
    if (!profile || !scene)
      throw new JobFailure('INPUT_INVALID', `campaign ${payload.c} has no job ${payload.i}`);
    const { name: _name, metadata: _metadata, ...input } = scene;
    return {
      input,
      snapshot: await pinned(tenantId, profile.profile_id, profile.version),
      variant: payload.i % spec.variants,
      queuedAt: new Date(spec.created_at).getTime(),
    };
  };
}
