import { randomInt } from 'node:crypto';
import {
  type Adapter,
  type AdapterSnapshot,
  MAX_SEED,
  type OutputFormat,
  type PinnableField,
  type PromptTemplateMode,
  type SeedStrategy,
} from '@castforge/schemas';

export const DEFAULT_SIZE = 1024;
export const DEFAULT_OUTPUT_FORMAT: OutputFormat = 'webp';

const USER_PROMPT_SLOT = /\{\{\s*user_prompt\s*\}\}/g;

const trimEnd = (text: string) => text.replace(/[\s,]+$/, '');
const trimStart = (text: string) => text.replace(/^[\s,]+/, '');

/** True when the template places the caller's prompt itself, so the mode is ignored. */
export const hasUserPromptSlot = (template: string | undefined) =>
  template !== undefined && new RegExp(USER_PROMPT_SLOT.source).test(template);

/**
 * Joins the caller's prompt and the profile's identity template (SPEC §3): `suffix` → "<prompt>, <template>",
 * `prefix` → "<template>, <prompt>", `replace` → "<template>", or the prompt substituted at
 * `{{ user_prompt }}`. Whitespace and stray commas at the joining edges are trimmed so the join never
 * doubles or drops a separator.
 */
export function joinPrompt(
  prompt: string | undefined,
  template: string | undefined,
  mode: PromptTemplateMode,
): string {
  const user = prompt ?? '';
  if (template === undefined || template.trim() === '') return user.trim();
  if (hasUserPromptSlot(template)) {
    const userPart = trimStart(trimEnd(user));
    // A function replacement, so `$&`, `$1`… in the caller's prompt are inserted literally.
    const filled = template.replace(USER_PROMPT_SLOT, () => userPart);
    if (userPart) return filled.trim();
    // An empty prompt leaves the separators around its slot behind: collapse them.
    return filled
      .replace(/\s*,(\s*,)+/g, ',')
      .replace(/\s+,/g, ',')
      .replace(/^[\s,]+|[\s,]+$/g, '');
  }
  switch (mode) {
    case 'replace':
      return trimStart(trimEnd(template));
    case 'prefix':
      return [trimEnd(template).trim(), trimStart(user).trim()].filter(Boolean).join(', ');
    case 'suffix':
      return [trimEnd(user).trim(), trimStart(template).trim()].filter(Boolean).join(', ');
  }
}

/** A prompt is needed unless the profile's template alone makes a non-empty one. */
export function promptRequired(snapshot: AdapterSnapshot | undefined): boolean {
  const template = snapshot?.prompt_template;
  if (template === undefined) return true;
  if (!hasUserPromptSlot(template) && snapshot?.prompt_template_mode !== 'replace') return true;
  const alone = joinPrompt(undefined, template, snapshot?.prompt_template_mode ?? 'suffix');
  return trimStart(trimEnd(alone)) === '';
}

export const randomSeed = () => randomInt(0, MAX_SEED + 1);

/**
 * The seed a job runs with (SPEC §3): `fixed` uses the profile's fixed_seed whatever the request says
 * (plus the campaign variant index, SPEC §7); `user` and `random` use the request's seed when it is ≥ 0
 * (plus the variant index, so a campaign's variants differ yet can be reproduced), else a fresh random one.
 */
export function pickSeed(
  strategy: SeedStrategy | undefined,
  requested: number | undefined,
  fixedSeed: number | undefined,
  variant = 0,
  random: () => number = randomSeed,
): number {
  if (strategy === 'fixed' && fixedSeed !== undefined) return (fixedSeed + variant) % (MAX_SEED + 1);
  if (requested !== undefined && requested >= 0) return (requested + variant) % (MAX_SEED + 1);
  return random();
}

export interface GenerationInput {
  prompt?: string;
  negative_prompt?: string;
  width?: number;
  height?: number;
  num_inference_steps?: number;
  guidance_scale?: number;
  seed?: number;
  output_format?: OutputFormat;
  /** (ext) Generation fields this request sets although the profile pins them (SPEC §3 Precedence). */
  override_profile?: readonly string[];
}

/**
 * An operation's own server defaults for fields neither the profile nor the request sets (the official SDK's
 * defaults, e.g. instamodel 768×1024, background-remove png); 1024×1024 webp when unset.
 */
export interface OperationDefaults {
  width?: number;
  height?: number;
  output_format?: OutputFormat;
}

export interface ResolvedGeneration {
  prompt: string;
  negativePrompt?: string;
  width: number;
  height: number;
  steps: number;
  guidance: number;
  outputFormat: OutputFormat;
  seed: number;
  adapter?: Adapter;
  /**
   * Fields the request sent with a value other than the one the profile pins, which the profile's value
   * replaced (not named in override_profile). Not a job warning: it is the documented precedence (SPEC §3),
   * and a client that always sends its own defaults (the official SDK) would get one on every job.
   */
  pinnedOver: PinnableField[];
}

/**
 * Precedence (SPEC §3): a profile pins every generation field it sets (negative_prompt, width, height,
 * steps → num_inference_steps, cfg_scale → guidance_scale, output_format, the adapter): its value wins over
 * the request's unless the request names the field in `override_profile`. Fields the profile leaves unset
 * come from the request, then from the operation's default, then the server's (or the backend's, for steps
 * and guidance). The seed is picked beforehand (`pickSeed`) and passed in. Pure, so the API (for estimates)
 * and the worker (for the run) agree.
 */
export function resolveGeneration(
  input: GenerationInput,
  snapshot: AdapterSnapshot | undefined,
  backendDefaults: { steps: number; guidance: number },
  seed: number,
  operationDefaults: OperationDefaults = {},
): ResolvedGeneration {
  const overridden = new Set(input.override_profile ?? []);
  const pinnedOver: PinnableField[] = [];
  const pin = <T>(field: PinnableField, requested: T | undefined, profile: T | undefined): T | undefined => {
    if (profile === undefined || overridden.has(field)) return requested ?? profile;
    if (requested !== undefined && requested !== profile) pinnedOver.push(field);
    return profile;
  };
  return {
    prompt: joinPrompt(input.prompt, snapshot?.prompt_template, snapshot?.prompt_template_mode ?? 'suffix'),
    negativePrompt: pin('negative_prompt', input.negative_prompt, snapshot?.negative_prompt),
    width: pin('width', input.width, snapshot?.width) ?? operationDefaults.width ?? DEFAULT_SIZE,
    height: pin('height', input.height, snapshot?.height) ?? operationDefaults.height ?? DEFAULT_SIZE,
    steps: pin('num_inference_steps', input.num_inference_steps, snapshot?.steps) ?? backendDefaults.steps,
    guidance: pin('guidance_scale', input.guidance_scale, snapshot?.cfg_scale) ?? backendDefaults.guidance,
    outputFormat:
      pin('output_format', input.output_format, snapshot?.output_format) ??
      operationDefaults.output_format ??
      DEFAULT_OUTPUT_FORMAT,
    seed,
    adapter: snapshot?.adapter,
    pinnedOver,
  };
}
