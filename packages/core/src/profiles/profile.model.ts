import { type AdapterSnapshot, type Storage } from '@castforge/schemas';
import { Schema, type Connection, type Model } from 'mongoose';

/** The current state of a profile, one document per profile. */
export interface ProfileDoc {
  tenant_id: string;
  profile_id: string;
  name: string;
  description: string | null;
  tags: string[];
  version: number;
  snapshot: AdapterSnapshot;
  storage: Storage | null;
  created_at: Date;
  updated_at: Date;
}

/** An immutable copy of a profile as it was at `version`; jobs pin one and run with exactly it. */
export type ProfileVersionDoc = ProfileDoc;

const fields = {
  tenant_id: { type: String, required: true },
  profile_id: { type: String, required: true },
  name: { type: String, required: true },
  description: { type: String, default: null },
  tags: { type: [String], default: [] },
  version: { type: Number, required: true },
  snapshot: { type: Schema.Types.Mixed, required: true },
  storage: { type: Schema.Types.Mixed, default: null },
  created_at: { type: Date, required: true },
  updated_at: { type: Date, required: true },
};

const profileSchema = new Schema<ProfileDoc>(fields, {
  collection: 'profiles',
  versionKey: false,
  minimize: false,
});
profileSchema.index({ tenant_id: 1, profile_id: 1 }, { unique: true });
// Newest-first pages: the sort key plus the id as a tie-breaker, with and without the tag filter.
profileSchema.index({ tenant_id: 1, created_at: -1, profile_id: -1 });
profileSchema.index({ tenant_id: 1, tags: 1, created_at: -1, profile_id: -1 });

const versionSchema = new Schema<ProfileVersionDoc>(fields, {
  collection: 'profile_versions',
  versionKey: false,
  minimize: false,
});
versionSchema.index({ tenant_id: 1, profile_id: 1, version: 1 }, { unique: true });

export interface ProfileModels {
  Profile: Model<ProfileDoc>;
  ProfileVersion: Model<ProfileVersionDoc>;
}

export function profileModels(connection: Connection): ProfileModels {
  return {
    Profile: connection.models.Profile ?? connection.model<ProfileDoc>('Profile', profileSchema),
    ProfileVersion:
      connection.models.ProfileVersion ??
      connection.model<ProfileVersionDoc>('ProfileVersion', versionSchema),
  };
}
