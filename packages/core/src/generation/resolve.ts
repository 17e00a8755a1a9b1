import { randomInt } from 'node:crypto';
import {
  type Adapter,
  type AdapterSnapshot,
  MAX_SEED,
  type OutputFormat,
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
}

/**
 * Precedence (SPEC §3): a field sent in the request beats the profile's default, which beats the server
 * (or backend) default. Pure, so the API (for estimates) and the worker (for the run) agree.
 */
export function resolveGeneration(
  input: GenerationInput,
  snapshot: AdapterSnapshot | undefined,
  backendDefaults: { steps: number; guidance: number },
  seed: number,
): ResolvedGeneration {
  return {
    prompt: joinPrompt(input.prompt, snapshot?.prompt_template, snapshot?.prompt_template_mode ?? 'suffix'),
    negativePrompt: input.negative_prompt ?? snapshot?.negative_prompt,
    width: input.width ?? snapshot?.width ?? DEFAULT_SIZE,
    height: input.height ?? snapshot?.height ?? DEFAULT_SIZE,
    steps: input.num_inference_steps ?? snapshot?.steps ?? backendDefaults.steps,
    guidance: input.guidance_scale ?? snapshot?.cfg_scale ?? backendDefaults.guidance,
    outputFormat: input.output_format ?? snapshot?.output_format ?? DEFAULT_OUTPUT_FORMAT,
    seed,
    adapter: snapshot?.adapter,
  };
}
