import { type CampaignRepository, type GenerationInput, type JobRef, type Sealer } from '@castforge/core';
import { type AdapterSnapshot, type JobPayload, type OperationName } from '@castforge/schemas';
import { type ProfileCache } from '../profiles/profile-cache';
import { JobFailure } from './failures';

/** What a job runs with, worked out before it takes a GPU slot. */
export interface Plan {
  operation: OperationName;
  /** The request's generation fields and operation options, as submitted (or the campaign's scene). */
  input: GenerationInput & Record<string, unknown>;
  /** Input image URLs by field that come with the job's plan (a campaign roster's), not its record. */
  images?: Record<string, string | string[]>;
  /** The pinned profile version's snapshot, when the job names a profile. */
  snapshot?: AdapterSnapshot;
  /** The profile's name, for backends that draw a label (the simulated one). */
  profileName?: string;
  /** Campaign variant index (SPEC §7): a `fixed` profile's variant i uses fixed_seed + i. */
  variant: number;
  queuedAt?: number;
}

export type PlanJob = (ref: JobRef, payload: Exclude<JobPayload, { kind: 'cancelled' }>) => Promise<Plan>;

export function createPlanner(deps: {
  profiles: ProfileCache;
  campaigns: Pick<CampaignRepository, 'spec'>;
  sealer: Pick<Sealer, 'open'>;
  /** Whether a campaign was cancelled (its live state in Redis). */
  campaignCancelled: (tenantId: string, campaignId: string) => Promise<boolean>;
}): PlanJob {
  const pinned = async (tenantId: string, profileId: string, version: number) => {
    const doc = await deps.profiles.get(tenantId, profileId, version);
    if (!doc) throw new JobFailure('INPUT_INVALID', `profile ${profileId} version ${version} does not exist`);
    return doc;
  };

  return async (ref, payload) => {
    if (payload.kind === 'single') {
      const doc = payload.profile
        ? await pinned(ref.tenantId, payload.profile.id, payload.profile.version)
        : undefined;
      return {
        operation: payload.op,
        input: payload.request,
        snapshot: doc?.snapshot,
        profileName: doc?.name,
        variant: 0,
      };
    }
    // A campaign job carries only its campaign and index; the submission is read once per process.
    const spec = await deps.campaigns.spec(ref.tenantId, payload.c);
    if (!spec) throw new JobFailure('INPUT_INVALID', `campaign ${payload.c} does not exist`);
    const perProfile = spec.scenes.length * spec.variants;
    const profile = spec.profiles[Math.floor(payload.i / perProfile)];
    const scene = spec.scenes[Math.floor(payload.i / spec.variants) % spec.scenes.length];
    if (!profile || !scene)
      throw new JobFailure('INPUT_INVALID', `campaign ${payload.c} has no job ${payload.i}`);
    const { name: _name, metadata: _metadata, logo_url: logo, ...input } = scene;
    const doc = await pinned(ref.tenantId, profile.profile_id, profile.version);
    const images: Record<string, string | string[]> = {};
    if (typeof logo === 'string') images.logo_url = logo;
    const profileIndex = Math.floor(payload.i / perProfile);
    if (spec.roster_images || input.enhance_prompt === true) {
      // Cancelling a campaign ends its waiting jobs by count; a job still on its way here would otherwise
      // fetch its face and call the enhancer before START drops it.
      if (await deps.campaignCancelled(ref.tenantId, payload.c)) {
        throw new JobFailure('CANCELLED', `campaign ${payload.c} was cancelled`);
      }
    }
    if (spec.roster_images) {
      // Present until the campaign ends; a job still starting after that has nothing to run on.
      const sealed = spec.roster_images[profileIndex];
      if (sealed === undefined) {
        throw new JobFailure('INPUT_INVALID', `the roster images of campaign ${payload.c} are gone`);
      }
      if (sealed) {
        try {
          Object.assign(images, JSON.parse(deps.sealer.open(sealed)) as Record<string, string | string[]>);
        } catch {
          throw new JobFailure('INPUT_INVALID', `the roster images of campaign ${payload.c} cannot be read`);
        }
      }
    }
    return {
      operation: spec.operation ?? 'generate',
      input,
      ...(Object.keys(images).length && { images }),
      snapshot: doc.snapshot,
      profileName: doc.name,
      variant: payload.i % spec.variants,
      queuedAt: new Date(spec.created_at).getTime(),
    };
  };
}
