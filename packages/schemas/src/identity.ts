import { z } from 'zod';
import { Dimension, Guidance, MAX_SEED, OutputFormat, ProfileId, Steps } from './common';
import {
  CallbackUrl,
  EnhancePrompt,
  GenerateImageRequest,
  ImageUrl,
  type PinnableField,
  generationFields,
  overrideProfile,
} from './generation';
import { type OperationName } from './operations';

/**
 * Request bodies of the identity endpoints (SPEC §3b) and of the rest of the ImagePipeline image surface,
 * field for field as the official SDK (`imagepipeline` 0.4.0) sends them, plus castforge's job fields
 * (profile_id, callback_url, priority, metadata, override_profile). Fields the profile can pin carry no
 * default here, so "not sent" stays visible to the precedence rule; the SDK's defaults for them are the
 * operation's server defaults in `operationRequests`.
 */

const Prompt = z.string().min(1).max(4000);
const Seed = z.number().int().min(-1).max(MAX_SEED).default(-1).meta({ description: '−1 = random' });
const Fraction = z.number().min(0).max(1);
const HexColour = z
  .string()
  .regex(/^#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, 'must be a hex colour such as #FF5733');
const Palette = z
  .array(HexColour)
  .min(1)
  .max(16)
  .meta({ description: 'Brand colours as hex codes, e.g. ["#FF5733"]' });
const Corner = z.enum(['bottom_right', 'bottom_left', 'top_right', 'top_left']);

/** Fields every job takes (SPEC §3b): where to call back, how urgent, what to echo. */
const jobFields = {
  callback_url: CallbackUrl.optional(),
  priority: generationFields.priority,
  metadata: generationFields.metadata,
};

/** The profile a job runs on, and which of the fields it pins this request takes over anyway. */
const profileFields = (pinnable: readonly PinnableField[]) => ({
  profile_id: ProfileId.optional(),
  override_profile: overrideProfile(pinnable).default([]),
});

const size = { width: Dimension.optional(), height: Dimension.optional() };

export const IdentityLockRequest = z
  .strictObject({
    input_image: ImageUrl.meta({ description: 'The reference face to keep' }),
    prompt: Prompt,
    ...size,
    seed: Seed,
    negative_prompt: generationFields.negative_prompt,
    num_inference_steps: Steps.optional(),
    guidance_scale: Guidance.optional(),
    output_format: OutputFormat.optional(),
    enhance_prompt: EnhancePrompt.default(false),
    ...profileFields([
      'width',
      'height',
      'negative_prompt',
      'num_inference_steps',
      'guidance_scale',
      'output_format',
    ]),
    ...jobFields,
  })
  .meta({ id: 'IdentityLockRequest', description: 'A new scene that keeps the face of `input_image`' });
export type IdentityLockRequest = z.infer<typeof IdentityLockRequest>;

export const IdentityReplaceRequest = z
  .strictObject({
    input_image: ImageUrl.meta({ description: 'The image whose person is replaced; its background stays' }),
    prompt: Prompt,
    ...size,
    seed: Seed,
    output_format: OutputFormat.optional(),
    enhance_prompt: EnhancePrompt.default(false),
    ...profileFields(['width', 'height', 'output_format']),
    ...jobFields,
  })
  .meta({ id: 'IdentityReplaceRequest', description: 'Replace the person in `input_image`' });
export type IdentityReplaceRequest = z.infer<typeof IdentityReplaceRequest>;

export const IdentityFaceswapRequest = z
  .strictObject({
    source: ImageUrl.meta({ description: 'The face to swap in' }),
    target: ImageUrl.meta({ description: 'The image to swap it onto' }),
    upscale: z.number().min(1).max(4).default(1.5).meta({ description: 'Output upscale factor' }),
    restore_weight: Fraction.default(0.5).meta({ description: 'Face restoration strength' }),
    palette: Palette.optional(),
    output_format: OutputFormat.optional(),
    ...profileFields(['output_format']),
    ...jobFields,
  })
  .meta({ id: 'IdentityFaceswapRequest', description: 'The face of `source` swapped onto `target`' });
export type IdentityFaceswapRequest = z.infer<typeof IdentityFaceswapRequest>;

export const InstamodelRequest = z
  .strictObject({
    input_face: ImageUrl.meta({ description: 'The reference face' }),
    prompt: Prompt,
    ...size,
    seed: Seed,
    negative_prompt: generationFields.negative_prompt,
    output_format: OutputFormat.optional(),
    enhance_prompt: EnhancePrompt.default(false),
    ...profileFields(['width', 'height', 'negative_prompt', 'output_format']),
    ...jobFields,
  })
  .meta({ id: 'InstamodelRequest', description: 'A consistent model / influencer image of `input_face`' });
export type InstamodelRequest = z.infer<typeof InstamodelRequest>;

export const TryonRequest = z
  .strictObject({
    person_image: ImageUrl.meta({ description: 'The person; face, pose and body are kept' }),
    clothing_image: ImageUrl.meta({ description: 'The clothing item to dress them in' }),
    gender: z.enum(['woman', 'man']).default('woman'),
    ...size,
    seed: Seed,
    output_format: OutputFormat.optional(),
    ...profileFields(['width', 'height', 'output_format']),
    ...jobFields,
  })
  .meta({ id: 'TryonRequest', description: 'Virtual try-on: `person_image` wearing `clothing_image`' });
export type TryonRequest = z.infer<typeof TryonRequest>;

/** The fixed label vocabulary of ImagePipeline's segmenter, plus the region aliases `edit` accepts. */
export const SegmentLabel = z.enum([
  'upper-clothes',
  'pants',
  'skirt',
  'dress',
  'belt',
  'left-shoe',
  'right-shoe',
  'hat',
  'bag',
  'scarf',
  'hair',
  'face',
  'left-arm',
  'right-arm',
  'left-leg',
  'right-leg',
  'sunglasses',
  'clothing',
  'person',
  'background',
]);

export const EditImageRequest = z
  .strictObject({
    prompt: Prompt.meta({ description: 'The editing instruction' }),
    input_image: z
      .union([ImageUrl, z.array(ImageUrl).min(1).max(4)])
      .optional()
      .meta({ description: 'One image URL, or a list (e.g. person + clothing) for multi-image editing' }),
    mode: z.string().min(1).max(64).optional().meta({ description: "e.g. 'anime'" }),
    ...size,
    seed: Seed,
    output_format: OutputFormat.optional(),
    num_inference_steps: Steps.optional(),
    guidance_scale: Guidance.optional(),
    refine_strength: Fraction.optional(),
    faster_inference: z.boolean().default(true),
    cfg_norm_strength: Fraction.optional(),
    product_saturation: z.number().min(0).max(2).optional(),
    mask_segment: SegmentLabel.optional(),
    mask_feather_px: z.number().int().min(0).max(64).optional(),
    palette: Palette.optional(),
    negative_prompt: generationFields.negative_prompt,
    enhance_prompt: EnhancePrompt.default(false),
    ...profileFields([
      'width',
      'height',
      'negative_prompt',
      'num_inference_steps',
      'guidance_scale',
      'output_format',
    ]),
    ...jobFields,
  })
  .meta({ id: 'EditImageRequest', description: 'Edit an image with a natural-language instruction' });
export type EditImageRequest = z.infer<typeof EditImageRequest>;

export const BackgroundChangeRequest = z
  .strictObject({
    input_image: ImageUrl,
    prompt: Prompt.meta({ description: 'The new background or scene' }),
    subject_description: z
      .string()
      .min(1)
      .max(500)
      .meta({ description: "The subject to keep, e.g. 'person'" }),
    use_segmentation: z.boolean().default(true),
    tone_correction: Fraction.optional(),
    has_text: z.boolean().optional(),
    palette: Palette.optional(),
    num_inference_steps: Steps.optional(),
    true_cfg_scale: Guidance.optional(),
    faster_inference: z.boolean().optional(),
    harmonize_strength: Fraction.optional(),
    seed: Seed,
    output_format: OutputFormat.optional(),
    enhance_prompt: EnhancePrompt.default(false),
    ...profileFields(['num_inference_steps', 'output_format']),
    ...jobFields,
  })
  .meta({ id: 'BackgroundChangeRequest', description: 'A new background behind the subject' });
export type BackgroundChangeRequest = z.infer<typeof BackgroundChangeRequest>;

export const BackgroundRemoveRequest = z
  .strictObject({
    input_image: ImageUrl,
    recolor: HexColour.optional().meta({ description: 'A flat background colour instead of transparency' }),
    drop_shadow: z.boolean().default(false),
    shadow_opacity: Fraction.default(0.38),
    shadow_blur: Fraction.default(0.018),
    shadow_dy: z.number().min(-1).max(1).default(0.022),
    shadow_dx: z.number().min(-1).max(1).default(0.004),
    output_format: OutputFormat.optional(),
    ...profileFields(['output_format']),
    ...jobFields,
  })
  .meta({ id: 'BackgroundRemoveRequest', description: 'The subject cut out of its background' });
export type BackgroundRemoveRequest = z.infer<typeof BackgroundRemoveRequest>;

export const BrandingLogoRequest = z
  .strictObject({
    input_image: ImageUrl,
    logo_url: ImageUrl.meta({ description: 'The logo (PNG with transparency recommended)' }),
    position: Corner.default('bottom_right'),
    output_format: OutputFormat.optional(),
    ...profileFields(['output_format']),
    ...jobFields,
  })
  .meta({ id: 'BrandingLogoRequest', description: 'A logo stamped onto an image' });
export type BrandingLogoRequest = z.infer<typeof BrandingLogoRequest>;

export const BrandingTemplateRequest = z
  .strictObject({
    input_image: ImageUrl,
    background_prompt: Prompt.default('clean professional studio background'),
    palette_mode: z.enum(['similar', 'complementary', 'radical']).default('similar'),
    subject_description: z.string().min(1).max(500).optional(),
    logo_url: ImageUrl.optional(),
    position: Corner.default('bottom_right'),
    output_format: OutputFormat.optional(),
    seed: Seed,
    ...profileFields(['output_format']),
    ...jobFields,
  })
  .meta({ id: 'BrandingTemplateRequest', description: 'A background matching the palette of the photo' });
export type BrandingTemplateRequest = z.infer<typeof BrandingTemplateRequest>;

export const UpscaleImageRequest = z
  .strictObject({
    input_image: ImageUrl,
    scale: z.number().int().min(1).max(4).default(4).meta({ description: '1 enhances only' }),
    output_format: OutputFormat.optional(),
    ...profileFields(['output_format']),
    ...jobFields,
  })
  .meta({ id: 'UpscaleImageRequest', description: 'An image enhanced and upscaled' });
export type UpscaleImageRequest = z.infer<typeof UpscaleImageRequest>;

/** The SDK reads `preview_url` and `segments` from this endpoint's answer, not a job id. */
export const SegmentImageRequest = z
  .strictObject({ image_url: ImageUrl, ...jobFields })
  .meta({ id: 'SegmentImageRequest', description: 'Clothing and body segments of an image' });
export type SegmentImageRequest = z.infer<typeof SegmentImageRequest>;

/** The SDK's defaults for pinnable fields it always sends: the operation's server defaults (SPEC §3). */
export interface OperationDefaults {
  width?: number;
  height?: number;
  output_format?: OutputFormat;
}

export interface OperationRequestSpec {
  request: z.ZodObject;
  /** Input image fields: URLs the worker fetches when the job starts (SPEC §3b). */
  images: readonly string[];
  /** Those of `images` a request must carry. */
  requiredImages: readonly string[];
  /** Generation fields the profile pins when it sets them (SPEC §3 Precedence). */
  generation: readonly PinnableField[];
  /** Operation-specific fields handed to the backend as they are (InferenceRequest.options). */
  options: readonly string[];
  /** Whether `logo_url` is composited onto the backend's result by the worker (generate, SPEC §3). */
  compositesLogo: boolean;
  defaults: OperationDefaults;
}

/**
 * Fields common to operations, neither images nor pinnable nor options: the prompt (joined with the profile
 * template), the seed (per seed_strategy), the prompt enhancer switch and the job fields.
 */
export const COMMON_REQUEST_FIELDS = [
  'prompt',
  'seed',
  'enhance_prompt',
  'profile_id',
  'override_profile',
  'callback_url',
  'priority',
  'metadata',
] as const;

const ALL_PINNABLE = [
  'negative_prompt',
  'width',
  'height',
  'num_inference_steps',
  'guidance_scale',
  'output_format',
] as const satisfies readonly PinnableField[];

/**
 * One row per operation: its request body, the fields the worker fetches, the fields a profile pins, the
 * options passed to the backend, and the SDK's defaults. The job catalog and the routes key on this.
 */
export const operationRequests = {
  generate: {
    request: GenerateImageRequest,
    images: [],
    requiredImages: [],
    generation: ALL_PINNABLE,
    options: [],
    compositesLogo: true,
    defaults: { width: 1024, height: 1024, output_format: 'webp' },
  },
  lock: {
    request: IdentityLockRequest,
    images: ['input_image'],
    requiredImages: ['input_image'],
    generation: ALL_PINNABLE,
    options: [],
    compositesLogo: false,
    defaults: { width: 1024, height: 1024, output_format: 'webp' },
  },
  replace: {
    request: IdentityReplaceRequest,
    images: ['input_image'],
    requiredImages: ['input_image'],
    generation: ['width', 'height', 'output_format'],
    options: [],
    compositesLogo: false,
    defaults: { width: 1024, height: 1024, output_format: 'webp' },
  },
  faceswap: {
    request: IdentityFaceswapRequest,
    images: ['source', 'target'],
    requiredImages: ['source', 'target'],
    generation: ['output_format'],
    options: ['upscale', 'restore_weight', 'palette'],
    compositesLogo: false,
    defaults: { output_format: 'webp' },
  },
  instamodel: {
    request: InstamodelRequest,
    images: ['input_face'],
    requiredImages: ['input_face'],
    generation: ['width', 'height', 'negative_prompt', 'output_format'],
    options: [],
    compositesLogo: false,
    defaults: { width: 768, height: 1024, output_format: 'webp' },
  },
  tryon: {
    request: TryonRequest,
    images: ['person_image', 'clothing_image'],
    requiredImages: ['person_image', 'clothing_image'],
    generation: ['width', 'height', 'output_format'],
    options: ['gender'],
    compositesLogo: false,
    defaults: { width: 832, height: 1248, output_format: 'webp' },
  },
  edit: {
    request: EditImageRequest,
    images: ['input_image'],
    requiredImages: [],
    generation: ALL_PINNABLE,
    options: [
      'mode',
      'refine_strength',
      'faster_inference',
      'cfg_norm_strength',
      'product_saturation',
      'mask_segment',
      'mask_feather_px',
      'palette',
    ],
    compositesLogo: false,
    // The SDK: width and height default to the source image's.
    defaults: { output_format: 'webp' },
  },
  'background-change': {
    request: BackgroundChangeRequest,
    images: ['input_image'],
    requiredImages: ['input_image'],
    generation: ['num_inference_steps', 'output_format'],
    options: [
      'subject_description',
      'use_segmentation',
      'tone_correction',
      'has_text',
      'palette',
      'true_cfg_scale',
      'faster_inference',
      'harmonize_strength',
    ],
    compositesLogo: false,
    defaults: { output_format: 'webp' },
  },
  'background-remove': {
    request: BackgroundRemoveRequest,
    images: ['input_image'],
    requiredImages: ['input_image'],
    generation: ['output_format'],
    options: ['recolor', 'drop_shadow', 'shadow_opacity', 'shadow_blur', 'shadow_dy', 'shadow_dx'],
    compositesLogo: false,
    defaults: { output_format: 'png' },
  },
  'branding-logo': {
    request: BrandingLogoRequest,
    images: ['input_image', 'logo_url'],
    requiredImages: ['input_image', 'logo_url'],
    generation: ['output_format'],
    options: ['position'],
    compositesLogo: false,
    defaults: { output_format: 'webp' },
  },
  'branding-template': {
    request: BrandingTemplateRequest,
    images: ['input_image', 'logo_url'],
    requiredImages: ['input_image'],
    generation: ['output_format'],
    options: ['background_prompt', 'palette_mode', 'subject_description', 'position'],
    compositesLogo: false,
    defaults: { output_format: 'webp' },
  },
  upscale: {
    request: UpscaleImageRequest,
    images: ['input_image'],
    requiredImages: ['input_image'],
    generation: ['output_format'],
    options: ['scale'],
    compositesLogo: false,
    defaults: { output_format: 'webp' },
  },
  segment: {
    request: SegmentImageRequest,
    images: ['image_url'],
    requiredImages: ['image_url'],
    generation: [],
    options: [],
    compositesLogo: false,
    defaults: {},
  },
} as const satisfies Record<OperationName, OperationRequestSpec>;
export type OperationRequests = typeof operationRequests;

/** The request body of an operation, as parsed. */
export type OperationRequest<O extends OperationName> = z.infer<OperationRequests[O]['request']>;
