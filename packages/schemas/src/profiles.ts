import { z } from 'zod';
import {
  Dimension,
  Guidance,
  OutputFormat,
  ProfileId,
  Seed,
  Steps,
  Timestamp,
  boundedObject,
} from './common';

export const PromptTemplateMode = z.enum(['suffix', 'prefix', 'replace']);
export type PromptTemplateMode = z.infer<typeof PromptTemplateMode>;
export const SeedStrategy = z.enum(['random', 'fixed', 'user']);
export type SeedStrategy = z.infer<typeof SeedStrategy>;

export const Lora = z.strictObject({
  // The name ends up inside an A1111 `<lora:name:weight>` token, so the token's delimiters are refused.
  name: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[^<>:]+$/, 'must not contain <, > or :'),
  weight: z.number().min(-2).max(2),
});

export const Adapter = z
  .strictObject({
    model: z.string().min(1).max(200).optional(),
    loras: z.array(Lora).max(8).optional(),
    identity_adapter: z.enum(['instantid', 'pulid', 'ip_adapter_faceid']).optional(),
    identity_strength: z.number().min(0).max(2).optional(),
    extra: boundedObject(8 * 1024).optional(),
  })
  .meta({
    id: 'Adapter',
    description: 'Backend-facing model config; `extra` is passed to the backend as is.',
  });
export type Adapter = z.infer<typeof Adapter>;

export const Storage = z
  .strictObject({
    provider: z.enum(['s3', 'gcs', 'azure', 'r2']),
    bucket: z.string().min(1).max(255),
    prefix: z.string().max(1024).optional(),
    region: z.string().min(1).max(64).optional(),
    endpoint: z
      .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
      .max(2048)
      // Zero data retention: `https://user:pass@host` or an Azure SAS `?sig=...` would smuggle a key in.
      .refine(
        (url) => {
          try {
            const { username, password, search } = new URL(url);
            return !username && !password && !search;
          } catch {
            return true; // not a URL at all: z.url() has said so already
          }
        },
        {
          message:
            'must not carry credentials or a query string: keys and signatures are never sent to the API (zero data retention)',
          params: { type: 'secret_refused' },
        },
      )
      .optional(),
  })
  .meta({
    id: 'Storage',
    description:
      "A pointer to the caller's own bucket. Stored and echoed, never dereferenced; never holds a key.",
  });
export type Storage = z.infer<typeof Storage>;

/** The generation defaults a profile pins, exactly as saved and echoed under `adapter_snapshot`. */
export const AdapterSnapshot = z
  .strictObject({
    prompt_template: z.string().max(4000).optional(),
    prompt_template_mode: PromptTemplateMode,
    negative_prompt: z.string().max(4000).optional(),
    steps: Steps.optional(),
    cfg_scale: Guidance.optional(),
    seed_strategy: SeedStrategy,
    fixed_seed: Seed.optional(),
    width: Dimension.optional(),
    height: Dimension.optional(),
    output_format: OutputFormat.optional(),
    adapter: Adapter.optional(),
  })
  .meta({ id: 'AdapterSnapshot' });
export type AdapterSnapshot = z.infer<typeof AdapterSnapshot>;

const requireFixedSeed = (
  value: { seed_strategy?: SeedStrategy | null; fixed_seed?: number | null },
  ctx: z.RefinementCtx,
) => {
  // Runs even when other fields are bad (see `whenObject`), so it reads the raw values defensively.
  if (value.seed_strategy === 'fixed' && (value.fixed_seed === undefined || value.fixed_seed === null)) {
    ctx.addIssue({
      code: 'custom',
      path: ['fixed_seed'],
      message: 'is required when seed_strategy is fixed',
      params: { type: 'missing' },
    });
  }
};

const createFields = {
  name: z.string().min(1).max(200),
  description: z.string().max(2000).nullish(),
  tags: z.array(z.string().min(1).max(64)).max(32).nullish(),
  prompt_template: z.string().max(4000).nullish(),
  prompt_template_mode: PromptTemplateMode.nullish(),
  negative_prompt: z.string().max(4000).nullish(),
  steps: Steps.nullish(),
  cfg_scale: Guidance.nullish(),
  seed_strategy: SeedStrategy.nullish(),
  fixed_seed: Seed.nullish(),
  width: Dimension.nullish(),
  height: Dimension.nullish(),
  output_format: OutputFormat.nullish(),
  adapter: Adapter.nullish(),
  storage: Storage.nullish(),
};

/** Run the whole-object rule even when another field already failed, so one 422 names every bad field. */
const whenObject = {
  when: ({ value }: { value: unknown }) =>
    typeof value === 'object' && value !== null && !Array.isArray(value),
};

export const ProfileCreate = z
  .strictObject(createFields)
  .superRefine(requireFixedSeed, whenObject)
  .meta({ id: 'IdentityProfileCreate', description: 'Only `name` is required; unknown fields are refused.' });
export type ProfileCreate = z.infer<typeof ProfileCreate>;

/** Partial update: a present field replaces the stored one, `null` clears an optional field. */
export const ProfilePatch = z
  .strictObject({ ...createFields, name: createFields.name.optional() })
  .meta({ id: 'IdentityProfilePatch' });
export type ProfilePatch = z.infer<typeof ProfilePatch>;

export const Profile = z
  .object({
    profile_id: ProfileId,
    name: z.string(),
    description: z.string().nullable(),
    tags: z.array(z.string()),
    version: z.number().int().min(1),
    adapter_snapshot: AdapterSnapshot,
    storage: Storage.nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'IdentityProfile' });
export type Profile = z.infer<typeof Profile>;

export const ProfileList = z
  .object({
    profiles: z.array(Profile),
    next_cursor: z.string().nullable(),
    total: z.number().int().min(0),
  })
  .meta({ id: 'IdentityProfileList' });
export type ProfileList = z.infer<typeof ProfileList>;

export const ProfileListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
  tag: z.string().min(1).max(64).optional(),
});
export type ProfileListQuery = z.infer<typeof ProfileListQuery>;

export const ProfilePathParams = z.strictObject({ profile_id: z.string() });
export const ProfileVersionParams = z.strictObject({
  profile_id: z.string(),
  // Decimal digits only, as documented: `Number()` alone would also read `0x1`, `1e0` or ` 1` as version 1.
  version: z
    .string()
    .regex(/^\d{1,15}$/)
    .transform(Number)
    .pipe(z.number().int().min(1)),
});
