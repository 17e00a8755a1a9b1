import { GenerateImageRequest, type OperationName, operationRoutes } from '@castforge/schemas';
import { type z } from 'zod';

/**
 * The job catalog (STYLE "the job core"): one row per operation. Adding an endpoint is adding a row: its
 * route, the request schema, which request fields are input images (fetched by the worker when the job
 * starts, never by the API) and which are options for the backend. Routes, validation, the worker's plan and
 * the OpenAPI document all read this table.
 */
export interface OperationSpec {
  route: string;
  request: z.ZodType<Record<string, unknown>>;
  /** Request fields that are input image URLs (SPEC §3b), in the order a backend expects them. */
  imageFields: readonly string[];
  /** Operation-specific request fields passed to the backend as they are (faceswap `upscale`, …). */
  optionFields: readonly string[];
  /** Whether a caller's prompt is joined with the profile's template (SPEC §3). */
  prompted: boolean;
}

export const catalog: Partial<Record<OperationName, OperationSpec>> = {
  generate: {
    route: operationRoutes.generate,
    request: GenerateImageRequest as unknown as z.ZodType<Record<string, unknown>>,
    imageFields: [],
    optionFields: [],
    prompted: true,
  },
};

/** Fields of a request that never travel in the BullMQ payload: they live sealed in the record, or not at all. */
export const RECORD_ONLY_FIELDS = ['callback_url', 'metadata', 'profile_id', 'priority'] as const;

export function operationSpec(operation: OperationName): OperationSpec | undefined {
  return catalog[operation];
}
