import { z } from 'zod';

/**
 * Every compute operation castforge knows (SPEC §3b, §12). The first six are the ImagePipeline image
 * endpoints castforge runs; the rest are the rest of ImagePipeline's image surface, which answers 501
 * unless a configured backend declares the operation (a ComfyUI workflow template can).
 */
export const OperationName = z.enum([
  'generate',
  'lock',
  'replace',
  'faceswap',
  'instamodel',
  'tryon',
  'edit',
  'background-change',
  'background-remove',
  'branding-logo',
  'branding-template',
  'upscale',
  'segment',
]);
export type OperationName = z.infer<typeof OperationName>;

/** The route of each operation; a job's status is at `<route>/status/{job_id}`. */
export const operationRoutes = {
  generate: '/generate/image/v1',
  lock: '/identity/lock/image/v1',
  replace: '/identity/replace/image/v1',
  faceswap: '/identity/faceswap/image/v1',
  instamodel: '/creator/instamodel/image/v1',
  tryon: '/creator/tryon/image/v1',
  edit: '/edit/image/v1',
  'background-change': '/background/change/image/v1',
  'background-remove': '/background/remove/image/v1',
  'branding-logo': '/branding/logo/image/v1',
  'branding-template': '/branding/template/image/v1',
  upscale: '/upscale/image/v1',
  segment: '/segment/image/v1',
} as const satisfies Record<OperationName, string>;

/** ImagePipeline endpoints whose output is not an image: castforge never runs them (always 501). */
export const UNSUPPORTED_ROUTES = [
  '/generate/video/v1',
  '/generate/speech/v1',
  '/generate/3d/v1',
  '/identity/voice/clone/v1',
] as const;

export const BackendName = z.enum(['simulated', 'a1111', 'comfyui']);
export type BackendName = z.infer<typeof BackendName>;

/** Which backends can run an operation at all (SPEC §12), for the message of a 422 at submit. */
export const backendsThatCanRun = (operation: OperationName): string[] => {
  const names = ['simulated'];
  if (operation === 'generate' || operation === 'lock' || operation === 'instamodel') names.push('a1111');
  names.push(`comfyui (with a ${operation}.json workflow template)`);
  return names;
};
