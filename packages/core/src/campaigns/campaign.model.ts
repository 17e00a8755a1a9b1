import {
  type CampaignCounts,
  type CampaignOperation,
  type CampaignStatusName,
  type Scene,
} from '@castforge/schemas';
import { Schema, type Connection, type Model } from 'mongoose';

/**
 * A campaign as listed and viewed: small whatever the campaign's size, so listing and viewing never
 * carry its roster and scenes (which live in CampaignSpecDoc).
 */
export interface CampaignDoc {
  tenant_id: string;
  campaign_id: string;
  name: string;
  job_count: number;
  profile_count: number;
  scene_count: number;
  variants: number;
  priority: number;
  metadata: Record<string, unknown> | null;
  /** Sealed (see webhooks/sealer.ts); never stored in the clear. */
  callback_url: string | null;
  /** `enqueuing` until every job is in its lane; a restarted API resumes campaigns left in it. */
  state: 'enqueuing' | 'enqueued';
  status: CampaignStatusName;
  /** Final counts, written when the campaign ends (its live counts are in Redis). */
  counts: CampaignCounts | null;
  created_at: Date;
  finished_at: Date | null;
}

/** What a campaign runs: the profile versions it pinned and its scenes. Immutable. */
export interface CampaignSpecDoc {
  tenant_id: string;
  campaign_id: string;
  /** What every job runs (SPEC §7); absent on campaigns recorded before operations, which ran `generate`. */
  operation?: CampaignOperation;
  profiles: { profile_id: string; version: number; name: string }[];
  /**
   * Each roster entry's input image URLs (`{field: url}` as JSON), sealed, by profile index; only for the
   * operations that take images. Removed when the campaign ends: no job needs them after that (SPEC §9).
   */
  roster_images?: string[];
  scenes: Scene[];
  /** Each scene's name (its `name`, else scene-<n>), for the job listing and the CLI's folders. */
  scene_names: string[];
  variants: number;
  created_at: Date;
}

const campaignSchema = new Schema<CampaignDoc>(
  {
    tenant_id: { type: String, required: true },
    campaign_id: { type: String, required: true },
    name: { type: String, required: true },
    job_count: { type: Number, required: true },
    profile_count: { type: Number, required: true },
    scene_count: { type: Number, required: true },
    variants: { type: Number, required: true },
    priority: { type: Number, required: true },
    metadata: { type: Schema.Types.Mixed, default: null },
    callback_url: { type: String, default: null },
    state: { type: String, required: true },
    status: { type: String, required: true },
    counts: { type: Schema.Types.Mixed, default: null },
    created_at: { type: Date, required: true },
    finished_at: { type: Date, default: null },
  },
  { collection: 'campaigns', versionKey: false, minimize: false },
);
campaignSchema.index({ tenant_id: 1, campaign_id: 1 }, { unique: true });
campaignSchema.index({ tenant_id: 1, created_at: -1, campaign_id: -1 });
campaignSchema.index({ state: 1 });

const specSchema = new Schema<CampaignSpecDoc>(
  {
    tenant_id: { type: String, required: true },
    campaign_id: { type: String, required: true },
    operation: { type: String },
    profiles: { type: Schema.Types.Mixed, required: true },
    roster_images: { type: [String], default: undefined },
    scenes: { type: Schema.Types.Mixed, required: true },
    scene_names: { type: [String], default: [] },
    variants: { type: Number, required: true },
    created_at: { type: Date, required: true },
  },
  { collection: 'campaign_specs', versionKey: false, minimize: false },
);
specSchema.index({ tenant_id: 1, campaign_id: 1 }, { unique: true });

export function campaignModels(connection: Connection): {
  Campaign: Model<CampaignDoc>;
  CampaignSpec: Model<CampaignSpecDoc>;
} {
  return {
    Campaign:
      (connection.models.Campaign as Model<CampaignDoc> | undefined) ??
      connection.model<CampaignDoc>('Campaign', campaignSchema),
    CampaignSpec:
      (connection.models.CampaignSpec as Model<CampaignSpecDoc> | undefined) ??
      connection.model<CampaignSpecDoc>('CampaignSpec', specSchema),
  };
}
