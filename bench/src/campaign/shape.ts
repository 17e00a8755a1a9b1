import { ConfigError, newCampaignId } from '@castforge/core';
import { type JobPayload, SingleJobPayload } from '@castforge/schemas';

/** What one POST /campaigns/v1 may hold (CampaignCreate): profiles and scenes ≤ 1,000, variants ≤ 16. */
const MAX_PROFILES = 1000;
const MAX_SCENES = 1000;
const MAX_VARIANTS = 16;
/** The example, 100 profiles × 100 scenes × 10 variants, scales this way: 10 variants when possible. */
const PREFERRED_VARIANTS = 10;

export interface CampaignShape {
  profiles: number;
  scenes: number;
  variants: number;
}

export const jobsOf = (shape: CampaignShape) => shape.profiles * shape.scenes * shape.variants;
const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
export const describeShape = (shape: CampaignShape) =>
  `${plural(shape.profiles, 'profile')} × ${plural(shape.scenes, 'scene')} × ${plural(shape.variants, 'variant')}`;

/**
 * profiles × scenes × variants = `jobs`: up to 10 variants, then profiles and scenes as close to a square as
 * the factors allow (100,000 → 100 × 100 × 10, 1,000 → 10 × 10 × 10, 10 → 1 × 1 × 10).
 */
export function campaignShape(jobs: number): CampaignShape {
  const variantChoices = [
    ...Array.from({ length: PREFERRED_VARIANTS }, (_, i) => PREFERRED_VARIANTS - i),
    ...Array.from({ length: MAX_VARIANTS - PREFERRED_VARIANTS }, (_, i) => PREFERRED_VARIANTS + 1 + i),
  ];
  for (const variants of variantChoices) {
    if (jobs % variants !== 0) continue;
    const rest = jobs / variants;
    for (let profiles = Math.floor(Math.sqrt(rest)); profiles >= 1; profiles--) {
      if (rest % profiles !== 0) continue;
      const scenes = rest / profiles;
      if (scenes > MAX_SCENES) break;
      if (profiles <= MAX_PROFILES) return { profiles, scenes, variants };
    }
  }
  throw new ConfigError([
    `BENCH_JOBS: ${jobs} is not profiles × scenes × variants within one campaign ` +
      `(≤ ${MAX_PROFILES} × ${MAX_SCENES} × ${MAX_VARIANTS}); pick a number like 1000, 10000 or 100000`,
  ]);
}

/** A profile of the roster, as a client would create it. */
export const profileBody = (n: number) => ({
  name: `Lead ${n}`,
  prompt_template: `portrait of lead number ${n}, 35mm photo, natural light`,
  width: 1024,
  height: 1024,
  steps: 30,
});

const sceneBody = (i: number) => ({
  name: `scene-${i + 1}`,
  prompt: `standing on a rooftop at sunset, golden hour, scene ${i + 1}`,
});

export function campaignBody(name: string, profileIds: string[], shape: CampaignShape) {
  return {
    name,
    profile_ids: profileIds.slice(0, shape.profiles),
    scenes: Array.from({ length: shape.scenes }, (_, i) => sceneBody(i)),
    variants: shape.variants,
  };
}

/** The payload factories of the bare baseline, by the name printed next to its figures. */
export type PayloadKind = 'identical' | 'naive';

/**
 * The bare baseline's job data. `identical`: what our campaign jobs carry, `{kind, c, i}` with an id of the
 * same length and the same indexes. `naive`: what a producer that ships each job its full request would
 * carry (the resolved prompt, sizes, steps, guidance, seed, format, profile id and version), ~300 bytes.
 */
export function payloadFactory(kind: PayloadKind, shape: CampaignShape): (index: number) => JobPayload {
  const campaignId = newCampaignId();
  if (kind === 'identical') return (i) => ({ kind: 'campaign', c: campaignId, i });
  const perProfile = shape.scenes * shape.variants;
  // Parsed once (the schema is the contract); each job then only varies what differs per job, so the
  // baseline's enqueue time is not spent in zod.
  const template = SingleJobPayload.parse({
    kind: 'single',
    op: 'generate',
    request: {
      prompt: 'replaced per job',
      negative_prompt: 'blurry, lowres, watermark, extra fingers',
      width: 1024,
      height: 1024,
      num_inference_steps: 30,
      guidance_scale: 7,
      seed: 0,
      output_format: 'png',
      priority: 0,
    },
    profile: { id: `prof_${'0'.repeat(16)}`, version: 1 },
  });
  return (i) => {
    const profile = Math.floor(i / perProfile) + 1;
    const scene = Math.floor(i / shape.variants) % shape.scenes;
    return {
      ...template,
      request: {
        ...template.request,
        prompt: `${profileBody(profile).prompt_template}, ${sceneBody(scene).prompt}`,
        seed: 1_000_000 + i,
      },
      profile: { id: `prof_${profile.toString(16).padStart(16, '0')}`, version: 1 },
    };
  };
}
