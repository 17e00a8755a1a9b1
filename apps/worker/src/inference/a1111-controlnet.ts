import { type Adapter } from '@castforge/schemas';
import sharp from 'sharp';
import { type InferenceRequest, type InputImage, InferenceError } from './inference-backend';

/**
 * Preprocessor (module) and model names of the sd-webui-controlnet units that carry a face (see
 * notes/identity-backends.md §1). The defaults are the A1111 extension's SDXL names; Forge's built-in
 * ControlNet calls the InstantID embedding module `InsightFace (InstantID)` and FaceID Plus
 * `InsightFace+CLIP-H (IPAdapter)`, and model names must match GET /controlnet/model_list.
 */
export interface A1111ControlNetNames {
  instantidEmbeddingModule: string;
  instantidEmbeddingModel: string;
  instantidKeypointsModule: string;
  instantidKeypointsModel: string;
  faceidModule: string;
  faceidModel: string;
  pulidModule: string;
  pulidModel: string;
}

export const DEFAULT_A1111_CONTROLNET: A1111ControlNetNames = {
  instantidEmbeddingModule: 'instant_id_face_embedding',
  instantidEmbeddingModel: 'ip-adapter_instant_id_sdxl',
  instantidKeypointsModule: 'instant_id_face_keypoints',
  instantidKeypointsModel: 'control_instant_id_sdxl',
  faceidModule: 'ip-adapter_face_id_plus',
  faceidModel: 'ip-adapter-faceid-plusv2_sdxl',
  pulidModule: 'ip-adapter_pulid',
  pulidModel: 'ip-adapter_pulid_sdxl_fp16',
};

/** ControlNet's own range is 0–2; a profile without identity_strength gets InstantID's usual 0.8. */
export const DEFAULT_IDENTITY_WEIGHT = 0.8;

/** The request field that holds the face, per operation the a1111 backend runs with a face. */
export const FACE_FIELDS = { lock: 'input_image', instamodel: 'input_face' } as const;

/** InsightFace detects at 640 px; a bigger face only makes the request (and A1111's memory) larger. */
const MAX_FACE_SIDE = 1024;

export type ControlNetUnit = Record<string, unknown>;

/**
 * The face as bare base64 (no `data:` prefix; A1111 accepts both, ComfyUI's loaders do not, so one form is
 * used everywhere), scaled down to MAX_FACE_SIDE when larger.
 */
export async function faceBase64(face: InputImage): Promise<string> {
  if (Math.max(face.width, face.height) <= MAX_FACE_SIDE) return face.data.toString('base64');
  const smaller = await sharp(face.data)
    .resize(MAX_FACE_SIDE, MAX_FACE_SIDE, { fit: 'inside' })
    .png()
    .toBuffer();
  return smaller.toString('base64');
}

/**
 * The ControlNet units that carry the job's face, chosen by the profile adapter's `identity_adapter`
 * (InstantID when unset) and weighted by `identity_strength`:
 * - InstantID: the embedding unit, then the keypoints unit (the extension refuses any other order);
 * - IP-Adapter FaceID (Plus v2) and PuLID: one unit. FaceID's LoRA, if wanted, goes in `adapter.loras`.
 * `save_detected_map: false` keeps detected maps out of the answer and off A1111's disk (SPEC §9).
 */
export function identityUnits(
  adapter: Adapter | undefined,
  image: string,
  names: A1111ControlNetNames,
): ControlNetUnit[] {
  const weight = adapter?.identity_strength ?? DEFAULT_IDENTITY_WEIGHT;
  const unit = (module: string, model: string): ControlNetUnit => ({
    enabled: true,
    module,
    model,
    weight,
    image,
    resize_mode: 'Crop and Resize',
    control_mode: 'Balanced',
    guidance_start: 0,
    guidance_end: 1,
    pixel_perfect: false,
    save_detected_map: false,
  });
  switch (adapter?.identity_adapter ?? 'instantid') {
    case 'instantid':
      return [
        unit(names.instantidEmbeddingModule, names.instantidEmbeddingModel),
        unit(names.instantidKeypointsModule, names.instantidKeypointsModel),
      ];
    case 'ip_adapter_faceid':
      return [unit(names.faceidModule, names.faceidModel)];
    case 'pulid':
      return [unit(names.pulidModule, names.pulidModel)];
  }
}

/**
 * `alwayson_scripts` for a job: the operator's own scripts from `adapter.extra` (ADetailer, a pose
 * ControlNet…), with the face units first in ControlNet's args for `lock` and `instamodel`. The script
 * title is matched case-insensitively, as A1111 does, so an `extra` that says `ControlNet` is merged, not
 * duplicated.
 */
export async function alwaysOnScripts(
  request: InferenceRequest,
  extra: unknown,
  names: A1111ControlNetNames,
): Promise<Record<string, unknown> | undefined> {
  const scripts = isRecord(extra) ? { ...extra } : {};
  if (request.operation !== 'lock' && request.operation !== 'instamodel') {
    return Object.keys(scripts).length ? scripts : undefined;
  }
  const field = FACE_FIELDS[request.operation];
  const face = request.images[field];
  if (!face) throw new InferenceError('INPUT_INVALID', `${request.operation} needs the input image ${field}`);
  const units = identityUnits(request.adapter, await faceBase64(face), names);

  const title = Object.keys(scripts).find((key) => key.toLowerCase() === 'controlnet');
  const theirs = title ? scripts[title] : undefined;
  const theirArgs = isRecord(theirs) && Array.isArray(theirs.args) ? (theirs.args as unknown[]) : [];
  if (title) delete scripts[title];
  return { ...scripts, controlnet: { args: [...units, ...theirArgs] } };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
