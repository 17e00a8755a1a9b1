import { z } from 'zod';
import { OperationName } from './operations';

/** GET /v1/user/details (SPEC §3b): who the key is, what the deployment runs, what the tenant used. */
export const UserDetails = z
  .object({
    tenant_id: z.string(),
    key: z.object({ key_id: z.string(), name: z.string() }),
    plan: z.literal('self-hosted').meta({ description: 'castforge is self-hosted: there is no paid plan' }),
    balance_remaining_usd: z.null().meta({ description: 'Always null: nothing is billed' }),
    operations: z
      .array(
        z.object({
          operation: OperationName,
          endpoint: z.string(),
          backends: z.array(z.string()).meta({ description: 'The backends of live workers that run it' }),
        }),
      )
      .meta({ description: 'The operations this deployment runs now (declared by its live workers)' }),
    usage: z.object({
      month: z.string().meta({ description: 'The calendar month, UTC, as YYYY-MM' }),
      jobs: z.number().int().meta({ description: 'Jobs that started and ended this month' }),
      gpu_seconds: z.number(),
      cost_usd: z
        .number()
        .nullable()
        .meta({ description: 'gpu_seconds × GPU_COST_PER_SECOND_USD, when set' }),
    }),
  })
  .meta({ id: 'UserDetails' });
export type UserDetails = z.infer<typeof UserDetails>;
