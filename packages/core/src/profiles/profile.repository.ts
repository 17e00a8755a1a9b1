import {
  type AdapterSnapshot,
  type Profile,
  ProfileCreate,
  type ProfileList,
  type ProfilePatch,
  issuesToDetail,
} from '@castforge/schemas';
import { type Connection } from 'mongoose';
import { AppError, invalidParameters } from '../errors';
import { newProfileId } from '../ids';
import { pageNewestFirst } from '../mongo/newest-first';
import { type ProfileDoc, profileModels } from './profile.model';

/** In the order SPEC §2 shows them. */
const SNAPSHOT_FIELDS = [
  'prompt_template',
  'prompt_template_mode',
  'negative_prompt',
  'steps',
  'cfg_scale',
  'seed_strategy',
  'fixed_seed',
  'height',
  'width',
  'output_format',
  'adapter',
] as const;

const SNAPSHOT_DEFAULTS: Partial<Record<(typeof SNAPSHOT_FIELDS)[number], unknown>> = {
  prompt_template_mode: 'suffix',
  seed_strategy: 'random',
};

/** Builds the snapshot as saved: defaults applied, unset fields absent rather than null. */
function toSnapshot(input: ProfileCreate): AdapterSnapshot {
  const snapshot: Record<string, unknown> = {};
  for (const field of SNAPSHOT_FIELDS) {
    const value = input[field] ?? SNAPSHOT_DEFAULTS[field];
    if (value !== undefined && value !== null) snapshot[field] = value;
  }
  return snapshot as AdapterSnapshot;
}

/** The inverse of the stored form: what a create request for this profile would have looked like. */
function toCreateInput(doc: ProfileDoc): Record<string, unknown> {
  return {
    name: doc.name,
    ...(doc.description !== null && { description: doc.description }),
    tags: doc.tags,
    ...doc.snapshot,
    ...(doc.storage !== null && { storage: doc.storage }),
  };
}

export function toProfile(doc: ProfileDoc): Profile {
  return {
    profile_id: doc.profile_id,
    name: doc.name,
    description: doc.description,
    tags: doc.tags,
    version: doc.version,
    adapter_snapshot: doc.snapshot,
    storage: doc.storage,
    created_at: doc.created_at.toISOString(),
    updated_at: doc.updated_at.toISOString(),
  };
}

const notFound = (profileId: string) => new AppError('NOT_FOUND', `profile ${profileId} not found`);
const changedMeanwhile = () =>
  new AppError('PRECONDITION_FAILED', 'the profile changed after If-Match was checked; read it again');

/**
 * Identity profiles in MongoDB (SPEC §2). Every query is scoped by tenant, so a foreign id reads
 * exactly like an unknown one.
 *
 * Versions are immutable. The profile document is the single point where a new version is decided
 * (a conditional update on the current version number); the `profile_versions` copy of a version is
 * written with `$setOnInsert`, so it can only ever be created once, with the content that version
 * had. Before a profile moves past version n (PATCH, DELETE), the copy of n is made sure of, so every
 * version a job may have pinned stays readable even if a process died between the two writes.
 */
export function createProfileRepository(connection: Connection) {
  const { Profile, ProfileVersion } = profileModels(connection);

  const preserveVersion = async (doc: ProfileDoc) => {
    // A document read back may carry the profile's own `_id` (the embedded server ignores `{ _id: 0 }` in
    // findOneAndUpdate); copied along, the second version's copy would collide with the first (E11000).
    const { _id: _ignored, ...fields } = doc as ProfileDoc & { _id?: unknown };
    const { tenant_id, profile_id, version } = fields;
    await ProfileVersion.updateOne(
      { tenant_id, profile_id, version },
      { $setOnInsert: fields },
      { upsert: true },
    );
  };

  const findCurrent = (tenantId: string, profileId: string) =>
    Profile.findOne({ tenant_id: tenantId, profile_id: profileId }, { _id: 0 }).lean<ProfileDoc>();

  const checkIfMatch = (doc: ProfileDoc, ifMatch: number | undefined) => {
    if (ifMatch !== undefined && ifMatch !== doc.version) {
      throw new AppError(
        'PRECONDITION_FAILED',
        `If-Match names version ${ifMatch}, but the profile is at version ${doc.version}`,
      );
    }
  };

  return {
    async create(tenantId: string, input: ProfileCreate): Promise<Profile> {
      const now = new Date();
      const doc: ProfileDoc = {
        tenant_id: tenantId,
        profile_id: newProfileId(),
        name: input.name,
        description: input.description ?? null,
        tags: input.tags ?? [],
        version: 1,
        snapshot: toSnapshot(input),
        storage: input.storage ?? null,
        created_at: now,
        updated_at: now,
      };
      await Profile.create(doc);
      await preserveVersion(doc);
      return toProfile(doc);
    },

    async get(tenantId: string, profileId: string): Promise<Profile> {
      const doc = await findCurrent(tenantId, profileId);
      if (!doc) throw notFound(profileId);
      return toProfile(doc);
    },

    async list(
      tenantId: string,
      query: { limit: number; cursor?: string; tag?: string },
    ): Promise<ProfileList> {
      const scope: Record<string, unknown> = { tenant_id: tenantId };
      if (query.tag !== undefined) scope.tags = query.tag;
      const [page, total] = await Promise.all([
        pageNewestFirst<ProfileDoc>(Profile, {
          filter: scope,
          idField: 'profile_id',
          limit: query.limit,
          cursor: query.cursor,
        }),
        Profile.countDocuments(scope),
      ]);
      return { profiles: page.docs.map(toProfile), next_cursor: page.nextCursor, total };
    },

    async patch(
      tenantId: string,
      profileId: string,
      patch: ProfilePatch,
      ifMatch?: number,
    ): Promise<Profile> {
      // Without If-Match a concurrent PATCH is not the caller's problem: re-read and apply on top.
      for (let attempt = 0; attempt < 5; attempt++) {
        const current = await findCurrent(tenantId, profileId);
        if (!current) throw notFound(profileId);
        checkIfMatch(current, ifMatch);

        const merged = toCreateInput(current);
        for (const [field, value] of Object.entries(patch)) {
          if (value === undefined) continue;
          if (value === null) delete merged[field];
          else merged[field] = value;
        }
        const result = ProfileCreate.safeParse(merged, { reportInput: true });
        if (!result.success) throw invalidParameters(issuesToDetail(result.error.issues, 'body'));
        const next = result.data;

        await preserveVersion(current);
        const updated = await Profile.findOneAndUpdate(
          { tenant_id: tenantId, profile_id: profileId, version: current.version },
          {
            $set: {
              name: next.name,
              description: next.description ?? null,
              tags: next.tags ?? [],
              snapshot: toSnapshot(next),
              storage: next.storage ?? null,
              version: current.version + 1,
              updated_at: new Date(),
            },
          },
          { returnDocument: 'after', projection: { _id: 0 } },
        ).lean<ProfileDoc>();
        if (updated) {
          await preserveVersion(updated);
          return toProfile(updated);
        }
        if (ifMatch !== undefined) throw changedMeanwhile();
      }
      throw new AppError('CONFLICT', `profile ${profileId} is being changed concurrently; try again`);
    },

    async remove(tenantId: string, profileId: string, ifMatch?: number): Promise<void> {
      for (;;) {
        const current = await findCurrent(tenantId, profileId);
        if (!current) throw notFound(profileId);
        checkIfMatch(current, ifMatch);
        // Jobs already queued still finish with their pinned version, so its copy must exist first.
        await preserveVersion(current);
        const { deletedCount } = await Profile.deleteOne({
          tenant_id: tenantId,
          profile_id: profileId,
          version: current.version,
        });
        if (deletedCount > 0) return;
        if (ifMatch !== undefined) throw changedMeanwhile();
      }
    },

    /** A past (or the current) version, as it was; 404 once the profile is deleted. */
    async getVersion(tenantId: string, profileId: string, version: number): Promise<Profile> {
      const current = await findCurrent(tenantId, profileId);
      if (!current || version > current.version) {
        throw new AppError('NOT_FOUND', `profile ${profileId} has no version ${version}`);
      }
      if (version === current.version) return toProfile(current);
      const doc = await ProfileVersion.findOne(
        { tenant_id: tenantId, profile_id: profileId, version },
        { _id: 0 },
      ).lean<ProfileDoc>();
      if (!doc) throw new AppError('NOT_FOUND', `profile ${profileId} has no version ${version}`);
      return toProfile(doc);
    },

    /**
     * The pinned version a job runs with, whether or not the profile still exists. Null only if the
     * version never existed, which a job created through the API cannot name.
     */
    async resolveVersion(tenantId: string, profileId: string, version: number): Promise<ProfileDoc | null> {
      const doc = await ProfileVersion.findOne(
        { tenant_id: tenantId, profile_id: profileId, version },
        { _id: 0 },
      ).lean<ProfileDoc>();
      if (doc) return doc;
      const current = await findCurrent(tenantId, profileId);
      if (current?.version !== version) return null;
      await preserveVersion(current);
      return current;
    },

    /** Current versions of many profiles at once (campaign validation): one query, tenant-scoped. */
    async currentVersions(tenantId: string, profileIds: readonly string[]): Promise<Map<string, ProfileDoc>> {
      const docs = await Profile.find(
        { tenant_id: tenantId, profile_id: { $in: [...new Set(profileIds)] } },
        { _id: 0 },
      ).lean<ProfileDoc[]>();
      return new Map(docs.map((doc) => [doc.profile_id, doc]));
    },

    ensureIndexes: async () => {
      await Profile.createIndexes();
      await ProfileVersion.createIndexes();
    },
  };
}
export type ProfileRepository = ReturnType<typeof createProfileRepository>;
