import { envFields, envFlag, parseEnv, resultStoreEnvFields } from '@castforge/core';
import { z } from 'zod';

export const StackConfig = z.object({
  REDIS_URL: envFields.REDIS_URL,
  REDIS_PREFIX: envFields.REDIS_PREFIX,
  MONGODB_URI: envFields.MONGODB_URI,
  LOG_LEVEL: envFields.LOG_LEVEL,
  PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  API_KEYS: z.string().optional(),
  /** Port for the embedded MongoDB; 0 picks a free one (recorded in DATA_DIR/stack.json). */
  EMBEDDED_MONGODB_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  DATA_DIR: resultStoreEnvFields.DATA_DIR,
  /** `pretty` (readable, default on a terminal) or `json` (one JSON object per line). */
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
  /** The apps' own drain time (worker default 30 s, API 10 s); the launcher waits 10 s past it before SIGKILL. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).optional(),
  /**
   * Local development admits loopback URLs for input images and callbacks (an image server or a webhook
   * receiver on this machine) unless these are set; docker-compose and the apps themselves default to false.
   */
  INPUT_ALLOW_LOOPBACK: envFlag.default(true),
  CALLBACK_ALLOW_LOOPBACK: envFlag.default(true),
});
export type StackConfig = z.infer<typeof StackConfig>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): StackConfig => parseEnv(StackConfig, env);
