import { z } from 'zod';

export const MAX_SEED = 4294967295;

export const ProfileId = z
  .string()
  .regex(/^prof_[0-9a-f]{16}$/, 'must look like prof_ followed by 16 hex digits');
export const JobId = z.string().regex(/^job_[0-9a-f]{16}$/, 'must look like job_ followed by 16 hex digits');
export const CampaignId = z
  .string()
  .regex(/^camp_[0-9a-f]{16}$/, 'must look like camp_ followed by 16 hex digits');

/** Tenant ids appear in queue names and log lines, so they are kept to a small, safe alphabet. */
export const TenantId = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'must be 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit',
  );

export const Dimension = z.number().int().min(64).max(2048).multipleOf(8);
export const Steps = z.number().int().min(1).max(150);
export const Guidance = z.number().min(0).max(30);
export const Seed = z.number().int().min(0).max(MAX_SEED);
export const OutputFormat = z.enum(['png', 'jpeg', 'webp']);
export type OutputFormat = z.infer<typeof OutputFormat>;

export const mimeTypeByFormat = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
} as const satisfies Record<OutputFormat, string>;

export const Timestamp = z.iso.datetime({ offset: true });

/** An object whose JSON form stays under `maxBytes`, for free-form fields such as `metadata`. */
export const boundedObject = (maxBytes: number) =>
  z.record(z.string(), z.unknown()).refine((value) => Buffer.byteLength(JSON.stringify(value)) <= maxBytes, {
    message: `must be at most ${maxBytes} bytes as JSON`,
    params: { type: 'too_large' },
  });
