import { z } from 'zod';
import { UserDetails } from './account';
import { JobQueuedResponse, JobStatus } from './generation';
import { operationRequests } from './identity';
import { type RouteDoc } from './openapi';
import { type OperationName, UNSUPPORTED_ROUTES, operationRoutes } from './operations';

const jobParams = z.object({ job_id: z.string().meta({ description: 'job_ + 16 hex digits' }) });
const idempotencyKey = {
  name: 'Idempotency-Key',
  description: '(ext) same key and body within 24 h → the first answer, no new work; another body → 409',
};

const SUMMARIES: Record<OperationName, string> = {
  generate: 'Queue an image generation job',
  lock: "Generate an image that keeps the input face's identity",
  replace: 'Replace the identity in an input image',
  faceswap: 'Swap the face of `source` into `target`',
  instamodel: 'Generate a model photo from an input face',
  tryon: 'Dress a person in a piece of clothing',
  edit: 'Edit an image with an instruction (runs when a backend declares it)',
  'background-change': "Replace an image's background (runs when a backend declares it)",
  'background-remove': "Remove an image's background (runs when a backend declares it)",
  'branding-logo': 'Stamp a logo onto an image (runs when a backend declares it)',
  'branding-template': 'Compose a brand scene (runs when a backend declares it)',
  upscale: 'Upscale an image (runs when a backend declares it)',
  segment: 'Segment an image (runs when a backend declares it)',
};

const TAGS: Record<OperationName, string> = {
  generate: 'Generation',
  lock: 'Identity',
  replace: 'Identity',
  faceswap: 'Identity',
  instamodel: 'Identity',
  tryon: 'Identity',
  edit: 'Image tools',
  'background-change': 'Image tools',
  'background-remove': 'Image tools',
  'branding-logo': 'Image tools',
  'branding-template': 'Image tools',
  upscale: 'Image tools',
  segment: 'Image tools',
};

/** Every operation of the job catalog: submit, status, cancel (SPEC §3, §3b, §4), the same for all. */
export const jobRoutes: RouteDoc[] = (Object.keys(operationRequests) as OperationName[]).flatMap(
  (operation) => {
    const route = operationRoutes[operation];
    const tag = TAGS[operation];
    const docs: RouteDoc[] = [
      {
        method: 'post',
        path: route,
        summary: SUMMARIES[operation],
        tag,
        headers: [idempotencyKey],
        body: operationRequests[operation].request,
        responses: { 202: { description: 'Queued', schema: JobQueuedResponse } },
        errors: operation === 'generate' ? [409, 429] : [409, 429, 501],
      },
      {
        method: 'get',
        path: `${route}/status/{job_id}`,
        summary: "A job's status, in one Redis round trip at any queue depth",
        tag,
        params: jobParams,
        responses: { 200: { description: 'The status', schema: JobStatus } },
      },
      {
        method: 'post',
        path: `${route}/cancel/{job_id}`,
        summary: 'Cancel a job that has not ended (ext); 409 for a job that has',
        tag,
        params: jobParams,
        responses: { 202: { description: 'The status, now cancelled', schema: JobStatus } },
        errors: [409],
      },
    ];
    return docs;
  },
);

/** The rest of the ImagePipeline surface the official client calls (SPEC §3b). */
export const surfaceRoutes: RouteDoc[] = [
  {
    method: 'get',
    path: '/v1/user/details',
    summary: 'Who the key is, the operations the deployment runs, and this month’s usage',
    tag: 'Account',
    responses: { 200: { description: 'The account', schema: UserDetails } },
  },
  {
    method: 'post',
    path: '/upload/image/v1',
    summary: 'Always 422: castforge never stores input images; pass a URL you host instead',
    tag: 'Account',
    responses: { 422: { description: 'Uploads are not accepted (zero data retention)' } },
  },
  ...UNSUPPORTED_ROUTES.map((path): RouteDoc => ({
    method: 'post',
    path,
    summary: 'Always 501: castforge runs image operations only',
    tag: 'Account',
    responses: { 501: { description: 'Not run by castforge' } },
  })),
];
