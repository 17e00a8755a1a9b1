import { type OperationName } from '../operations';

export const IMG = 'https://images.example.com/face.png';
export const IMG2 = 'https://images.example.com/shirt.webp';
export const PROFILE = 'prof_0123456789abcdef';
export const HOOK = 'https://hooks.example.com/castforge';

/**
 * Every body the official client (`imagepipeline` 0.4.0, Model-Pipelines/imagepipeline-python) can send, as
 * its resources build them: the keys it always sends with its defaults, then with every optional key set.
 */
export const sdkBodies: Record<OperationName, Record<string, unknown>[]> = {
  generate: [
    { prompt: 'a cat', width: 1024, height: 1024, seed: -1, output_format: 'webp', enhance_prompt: false },
    {
      prompt: 'a cat',
      width: 512,
      height: 768,
      seed: 42,
      output_format: 'png',
      enhance_prompt: true,
      num_inference_steps: 8,
      guidance_scale: 0,
      logo_url: IMG2,
      profile_id: PROFILE,
      callback_url: HOOK,
    },
  ],
  lock: [
    { input_image: IMG, prompt: 'on a beach', width: 1024, height: 1024, seed: -1 },
    {
      input_image: IMG,
      prompt: 'on a beach',
      width: 2048,
      height: 2048,
      seed: 7,
      profile_id: PROFILE,
      callback_url: HOOK,
    },
  ],
  replace: [
    { input_image: IMG, prompt: 'a man', width: 1024, height: 1024, seed: -1 },
    {
      input_image: IMG,
      prompt: 'a man',
      width: 64,
      height: 64,
      seed: 0,
      profile_id: PROFILE,
      callback_url: HOOK,
    },
  ],
  faceswap: [
    { source: IMG, target: IMG2, upscale: 1.5, restore_weight: 0.5 },
    { source: IMG, target: IMG2, upscale: 4, restore_weight: 1, profile_id: PROFILE, callback_url: HOOK },
  ],
  instamodel: [
    { input_face: IMG, prompt: 'in a cafe', width: 768, height: 1024, output_format: 'webp' },
    {
      input_face: IMG,
      prompt: 'in a cafe',
      width: 768,
      height: 1024,
      output_format: 'jpeg',
      seed: 3,
      negative_prompt: 'blurry',
      profile_id: PROFILE,
      callback_url: HOOK,
    },
  ],
  tryon: [
    {
      person_image: IMG,
      clothing_image: IMG2,
      gender: 'woman',
      width: 832,
      height: 1248,
      seed: -1,
      output_format: 'webp',
    },
    {
      person_image: IMG,
      clothing_image: IMG2,
      gender: 'man',
      width: 832,
      height: 1248,
      seed: 9,
      output_format: 'png',
      profile_id: PROFILE,
      callback_url: HOOK,
    },
  ],
  edit: [
    { prompt: 'make it red', seed: -1, output_format: 'webp', faster_inference: true },
    {
      prompt: 'dress the person in the shirt from image 2',
      seed: 5,
      output_format: 'png',
      faster_inference: false,
      input_image: [IMG, IMG2],
      mode: 'anime',
      width: 1024,
      height: 1024,
      num_inference_steps: 20,
      guidance_scale: 4.5,
      refine_strength: 0.2,
      cfg_norm_strength: 0.8,
      product_saturation: 0.9,
      mask_segment: 'upper-clothes',
      mask_feather_px: 8,
      palette: ['#FF5733', '00ff00'],
      negative_prompt: 'text',
      profile_id: PROFILE,
      callback_url: HOOK,
    },
    { prompt: 'x', seed: -1, output_format: 'webp', faster_inference: true, input_image: IMG },
  ],
  'background-change': [
    {
      input_image: IMG,
      prompt: 'a beach',
      subject_description: 'person',
      use_segmentation: true,
      seed: -1,
      output_format: 'webp',
    },
    {
      input_image: IMG,
      prompt: 'a beach',
      subject_description: 'glass bottle',
      use_segmentation: false,
      seed: 1,
      output_format: 'jpeg',
      tone_correction: 0.5,
      has_text: false,
      palette: ['#123456'],
      num_inference_steps: 8,
      true_cfg_scale: 4,
      faster_inference: true,
      harmonize_strength: 0.7,
      callback_url: HOOK,
    },
  ],
  'background-remove': [
    { input_image: IMG, drop_shadow: false, output_format: 'png' },
    {
      input_image: IMG,
      drop_shadow: true,
      output_format: 'webp',
      recolor: 'F0F0F0',
      shadow_opacity: 0.38,
      shadow_blur: 0.018,
      shadow_dy: 0.022,
      shadow_dx: 0.004,
      callback_url: HOOK,
    },
  ],
  'branding-logo': [
    { input_image: IMG, logo_url: IMG2, position: 'bottom_right', output_format: 'webp' },
    { input_image: IMG, logo_url: IMG2, position: 'top_left', output_format: 'png', callback_url: HOOK },
  ],
  'branding-template': [
    {
      input_image: IMG,
      background_prompt: 'clean professional studio background',
      palette_mode: 'similar',
      position: 'bottom_right',
      output_format: 'webp',
      seed: -1,
    },
    {
      input_image: IMG,
      background_prompt: 'urban rooftop at dusk',
      palette_mode: 'radical',
      position: 'top_right',
      output_format: 'jpeg',
      seed: 11,
      subject_description: 'woman in red dress',
      logo_url: IMG2,
      callback_url: HOOK,
    },
  ],
  upscale: [
    { input_image: IMG, scale: 4, output_format: 'webp' },
    { input_image: IMG, scale: 1, output_format: 'png', callback_url: HOOK },
  ],
  segment: [{ image_url: IMG }],
};
