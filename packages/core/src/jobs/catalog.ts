import {
  type OperationDefaults,
  type OperationName,
  operationRequests,
  operationRoutes,
} from '@castforge/schemas';
import { type z } from 'zod';

/**
 * The job catalog (STYLE "the job core"): one row per operation, derived from the contract's table of
 * operation requests. Adding an endpoint is adding a row there: its route, the request schema, which request
 * fields are input images (fetched by the worker when the job starts, never by the API) and which are options
 * for the backend. Routes, validation, the worker's plan and the OpenAPI document all read this table.
 * Whether a deployment RUNS an operation is the backends' to say (SPEC §12): the catalog only knows how.
 */
export interface OperationSpec {
  operation: OperationName;
  route: string;
  request: z.ZodType<Record<string, unknown>>;
  /** Request fields that are input image URLs (SPEC §3b), in the order a backend expects them. */
  imageFields: readonly string[];
  /** Operation-specific request fields passed to the backend as they are (faceswap `upscale`, …). */
  optionFields: readonly string[];
  /** Whether a caller's prompt is joined with the profile's template (SPEC §3). */
  prompted: boolean;
  /** Whether the worker composites `logo_url` onto the result (SPEC §3). */
  compositesLogo: boolean;
  /** The operation's own defaults for the pinnable fields its official client always sends. */
  defaults: OperationDefaults;
}

const rows = Object.entries(operationRequests).map(([operation, spec]): [OperationName, OperationSpec] => [
  operation as OperationName,
  {
    operation: operation as OperationName,
    route: operationRoutes[operation as OperationName],
    request: spec.request,
    imageFields: spec.images,
    optionFields: spec.options,
    prompted: 'prompt' in spec.request.shape,
    compositesLogo: spec.compositesLogo,
    defaults: spec.defaults,
  },
]);

export const catalog: Readonly<Record<OperationName, OperationSpec>> = Object.fromEntries(rows) as Record<
  OperationName,
  OperationSpec
>;

/** Fields of a request that never travel in the BullMQ payload: they live sealed in the record, or not at all. */
export const RECORD_ONLY_FIELDS = ['callback_url', 'metadata', 'profile_id', 'priority', 'logo_url'] as const;

export function operationSpec(operation: OperationName): OperationSpec | undefined {
  return catalog[operation];
}
