import { envFlag } from '@castforge/core';
import { z } from 'zod';

/** Operators' keys: comma-separated, each at least 16 characters; none (the default) turns /admin off. */
const adminKeys = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((key) => key.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().min(16, 'each admin key must be at least 16 characters')));

export const adminEnvFields = {
  ADMIN_API_KEYS: adminKeys,
  /** Bull Board shows the queues without retrying, removing, pausing or cleaning anything. */
  ADMIN_QUEUES_READ_ONLY: envFlag.default(true),
};
