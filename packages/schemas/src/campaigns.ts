import { z } from 'zod';
import { CampaignId, ProfileId, Timestamp, boundedObject } from './common';
import {
  CallbackUrl,
  type GenerateImageRequest,
  ImageUrl,
  JobStatus,
  JobStatusName,
  generationFields,
} from './generation';
import { operationRequests } from './identity';
import { OperationName } from './operations';
import { issuesToDetail } from './validation';

/** The operations a campaign can run: every one that applies a profile (`segment` does not). */
export const CampaignOperation = OperationName.exclude(['segment']);
export type CampaignOperation = z.infer<typeof CampaignOperation>;

const SceneName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[^/\\\0]+$/, 'must not contain / or \\')
  .meta({ description: '(ext) names the folder the CLI downloads this scene into' });

/** Fields of an operation's request that a scene never carries: they belong to the roster or the campaign. */
const notInScenes = (operation: CampaignOperation): readonly string[] => [
  ...operationRequests[operation].images,
  'profile_id',
  'callback_url',
  'priority',
];

const pick = (shape: z.core.$ZodLooseShape, drop: readonly string[]): z.core.$ZodLooseShape =>
  Object.fromEntries(Object.entries(shape).filter(([key]) => !drop.includes(key)));

/**
 * The scene of a campaign running `operation` (SPEC §7): the operation's request fields except its input
 * images (in the roster), `profile_id`, `callback_url` and `priority` (the campaign's), plus a name.
 */
export function sceneSchemaFor(operation: CampaignOperation): z.ZodObject {
  const request = operationRequests[operation].request;
  return z.strictObject({ ...pick(request.shape, notInScenes(operation)), name: SceneName.optional() });
}

/** A roster entry of a campaign running `operation`: a profile and the operation's input images. */
export function rosterEntrySchemaFor(operation: CampaignOperation): z.ZodObject {
  const { request, images } = operationRequests[operation];
  const shape = request.shape as z.core.$ZodLooseShape;
  return z.strictObject({
    profile_id: ProfileId,
    ...Object.fromEntries(images.map((field) => [field, shape[field]!])),
  });
}

const optionalWithoutDefault = (schema: z.ZodType): z.ZodType =>
  (schema instanceof z.ZodDefault ? (schema.unwrap() as z.ZodType) : schema).optional();

/**
 * What any scene may hold: every field of every operation's scene, optional and without defaults (the
 * operation's own schema applies its defaults when each job is built, and a default here would look like
 * a field the scene sent). `generate` comes first, so a field several operations share takes its loosest
 * form (an optional prompt, every name in override_profile). Checked again per operation as a whole.
 */
const anySceneShape = (): z.core.$ZodLooseShape => {
  const shape: z.core.$ZodLooseShape = {};
  for (const operation of CampaignOperation.options) {
    for (const [key, schema] of Object.entries(sceneSchemaFor(operation).shape)) {
      shape[key] ??= optionalWithoutDefault(schema as z.ZodType);
    }
  }
  return shape;
};

/**
 * A scene as parsed: the generate fields are typed (they are what every operation with a prompt shares);
 * the other operations' options are kept as sent and typed by that operation's request schema when each job
 * is built.
 */
export type Scene = Partial<Omit<GenerateImageRequest, 'profile_id' | 'callback_url' | 'priority'>> & {
  name?: string;
  [option: string]: unknown;
};

/** A scene (SPEC §7): the fields of the campaign operation's request, less images and per-job fields. */
export const Scene = z.strictObject(anySceneShape()).meta({
  id: 'CampaignScene',
  description:
    "The fields of the campaign operation's request except its input images (in the roster), profile_id, " +
    'callback_url and priority; each scene is checked against that operation.',
}) as unknown as z.ZodType<Scene>;

/** A roster entry (SPEC §7): a profile and the input images of the campaign operation. */
export const RosterEntry = z
  .strictObject({
    profile_id: ProfileId,
    input_image: operationRequests.edit.request.shape.input_image,
    source: ImageUrl.optional(),
    target: ImageUrl.optional(),
    input_face: ImageUrl.optional(),
    person_image: ImageUrl.optional(),
    clothing_image: ImageUrl.optional(),
    logo_url: ImageUrl.optional(),
  })
  .meta({
    id: 'CampaignRosterEntry',
    description: "A profile and the campaign operation's input images (e.g. `input_image` for lock)",
  });
export type RosterEntry = z.infer<typeof RosterEntry>;

type Issue = { path: (string | number)[]; message: string; type: string };

/** Repeated profile ids, reported at the later occurrence. */
function duplicates(
  ids: readonly string[],
  at: (index: number) => (string | number)[],
  name: string,
): Issue[] {
  const seen = new Map<string, number>();
  const found: Issue[] = [];
  ids.forEach((id, index) => {
    const first = seen.get(id);
    if (first !== undefined) {
      found.push({ path: at(index), message: `repeats ${name}[${first}]`, type: 'duplicate' });
    } else seen.set(id, index);
  });
  return found;
}

/** A value's issues against `schema`, worded as every 422 is (SPEC §8), at paths under `at`. */
function issuesOf(schema: z.ZodType, value: unknown, at: (string | number)[]): Issue[] {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return [];
  return issuesToDetail(result.error.issues, '').map((d) => ({
    path: [...at, ...d.loc.slice(1)],
    message: d.msg,
    type: d.type,
  }));
}

/**
 * The campaign as a whole (SPEC §7): `generate` takes `profile_ids`; an operation with required input images
 * takes a `roster` of `{profile_id, <its image fields>}` instead; `edit` (whose image is optional) takes
 * either. Every scene and roster entry is checked against the operation's own request.
 */
function checkWhole(value: {
  operation: CampaignOperation;
  profile_ids?: string[] | undefined;
  roster?: RosterEntry[] | undefined;
  scenes: Scene[];
}): Issue[] {
  const { operation, profile_ids: ids, roster, scenes } = value;
  const spec = operationRequests[operation];
  const issues: Issue[] = [];
  const rosterShape = `{profile_id, ${spec.images.join(', ')}}`;
  if (ids && roster) {
    issues.push({
      path: ['roster'],
      message: 'give either profile_ids or roster, not both',
      type: 'conflict',
    });
  } else if (!ids && !roster) {
    const needsRoster = spec.requiredImages.length > 0;
    issues.push({
      path: [needsRoster ? 'roster' : 'profile_ids'],
      message: needsRoster
        ? `is required: operation ${operation} takes a roster of ${rosterShape}`
        : 'is required (1–1000 profile ids)',
      type: 'missing',
    });
  } else if (ids && spec.requiredImages.length) {
    const message = `operation ${operation} takes a roster of ${rosterShape} instead of profile_ids`;
    issues.push({ path: ['profile_ids'], message, type: 'roster_required' });
  } else if (roster && !spec.images.length) {
    const message = `operation ${operation} takes no input image: give profile_ids instead of a roster`;
    issues.push({ path: ['roster'], message, type: 'profile_ids_required' });
  }
  if (ids) issues.push(...duplicates(ids, (i) => ['profile_ids', i], 'profile_ids'));
  if (roster) {
    const profileIds = roster.map((entry) => entry.profile_id);
    issues.push(...duplicates(profileIds, (i) => ['roster', i, 'profile_id'], 'roster'));
    if (spec.images.length) {
      const entrySchema = rosterEntrySchemaFor(operation);
      roster.forEach((entry, i) => issues.push(...issuesOf(entrySchema, entry, ['roster', i])));
    }
  }
  const sceneSchema = sceneSchemaFor(operation);
  scenes.forEach((scene, i) => issues.push(...issuesOf(sceneSchema, scene, ['scenes', i])));
  return issues;
}

export const CampaignCreate = z
  .strictObject({
    name: z.string().min(1).max(200),
    operation: CampaignOperation.default('generate').meta({
      description:
        'What every job runs (SPEC §3b); the identity operations take a roster instead of profile_ids',
    }),
    profile_ids: z.array(ProfileId).min(1).max(1000).optional(),
    roster: z.array(RosterEntry).min(1).max(1000).optional(),
    scenes: z.array(Scene).min(1).max(1000),
    variants: z.number().int().min(1).max(16).default(1),
    callback_url: CallbackUrl.optional(),
    priority: generationFields.priority,
    metadata: boundedObject(4096).optional(),
  })
  .superRefine((value, ctx) => {
    // Also runs after issues that do not abort parsing (a number out of range): a field already reported
    // by the fields' own schemas is not reported twice.
    const reported = new Set(ctx.issues.map((issue) => issue.path?.join('.')));
    for (const issue of checkWhole(value)) {
      if (reported.has(issue.path.join('.'))) continue;
      ctx.addIssue({
        code: 'custom',
        path: issue.path,
        message: issue.message,
        params: { type: issue.type },
      });
    }
  })
  // One list of the campaign's profiles whichever way they were given: jobs = profiles × scenes × variants.
  .transform((value) => ({
    ...value,
    profile_ids: value.roster ? value.roster.map((entry) => entry.profile_id) : (value.profile_ids ?? []),
  }))
  .meta({
    id: 'CampaignCreate',
    description:
      'Jobs = profiles × scenes × variants (at most CAMPAIGN_MAX_JOBS). `generate` takes profile_ids; the ' +
      'identity operations take a roster of {profile_id, <their input images>}. With a `fixed` profile variant ' +
      'i uses fixed_seed + i; with a seed in the scene, seed + i; otherwise each variant gets a random seed.',
  });
export type CampaignCreate = z.infer<typeof CampaignCreate>;

/**
 * One campaign job's request, as if submitted alone: its scene, its roster entry's images and its profile,
 * parsed by the operation's own schema so the operation's defaults apply (SDK defaults such as faceswap's
 * `upscale` 1.5 are not stored with the campaign's scenes).
 */
export function campaignJobRequest<O extends CampaignOperation>(
  operation: O,
  scene: Scene,
  cast: { profile_id: string } & Partial<RosterEntry>,
): z.output<(typeof operationRequests)[O]['request']> {
  const { name: _name, ...fields } = scene;
  return operationRequests[operation].request.parse({ ...fields, ...cast }) as z.output<
    (typeof operationRequests)[O]['request']
  >;
}

export const CampaignStatusName = z.enum(['running', 'completed', 'completed_with_failures', 'cancelled']);
export type CampaignStatusName = z.infer<typeof CampaignStatusName>;

export const CampaignCounts = z.object({
  queued: z.number().int(),
  pending: z.number().int(),
  processing: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
});
export type CampaignCounts = z.infer<typeof CampaignCounts>;

export const Campaign = z
  .object({
    campaign_id: CampaignId,
    name: z.string(),
    status: CampaignStatusName,
    job_count: z.number().int(),
    profile_count: z.number().int(),
    scene_count: z.number().int(),
    variants: z.number().int(),
    priority: z.number().int(),
    counts: CampaignCounts,
    progress: z.number().min(0).max(100),
    eta_seconds: z
      .number()
      .nullable()
      .meta({ description: 'From recently measured inference times; null once ended' }),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    created_at: Timestamp,
    finished_at: Timestamp.nullable(),
  })
  .meta({ id: 'Campaign' });
export type Campaign = z.infer<typeof Campaign>;

export const CampaignQueuedResponse = z
  .object({
    campaign_id: CampaignId,
    job_count: z.number().int(),
    status: CampaignStatusName,
    created_at: Timestamp,
  })
  .meta({ id: 'CampaignQueuedResponse' });
export type CampaignQueuedResponse = z.infer<typeof CampaignQueuedResponse>;

export const CampaignList = z
  .object({ campaigns: z.array(Campaign), next_cursor: z.string().nullable() })
  .meta({ id: 'CampaignList' });

export const CampaignListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
});

/** A campaign job as listed: its status plus where it sits in the campaign (ext). */
export const CampaignJob = JobStatus.extend({
  campaign_index: z.number().int(),
  profile_index: z.number().int(),
  profile_name: z.string(),
  scene_index: z.number().int(),
  scene_name: z.string(),
  variant: z.number().int(),
}).meta({ id: 'CampaignJob' });
export type CampaignJob = z.infer<typeof CampaignJob>;

export const CampaignJobList = z
  .object({ jobs: z.array(CampaignJob), next_cursor: z.string().nullable() })
  .meta({ id: 'CampaignJobList' });
export type CampaignJobList = z.infer<typeof CampaignJobList>;

export const CampaignJobsQuery = z.strictObject({
  status: JobStatusName.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z
    .string()
    .regex(/^\d{1,9}$/, 'is not a cursor this API returned')
    .optional(),
});

/** The event sent to a campaign's callback_url once its last job has ended (ext). */
export const CampaignEvent = z
  .object({
    event: z.literal('campaign.completed'),
    campaign_id: CampaignId,
    tenant_id: z.string(),
    status: CampaignStatusName.exclude(['running']),
    job_count: z.number().int(),
    counts: CampaignCounts,
    timestamp: z.number().int(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'CampaignCompletedEvent' });
export type CampaignEvent = z.infer<typeof CampaignEvent>;
