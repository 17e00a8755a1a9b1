import { AppError, invalidParameters, liveWorkers, type RedisKeys } from '@castforge/core';
import { type OperationName, backendsThatCanRun, operationRoutes } from '@castforge/schemas';
import { type Redis } from 'ioredis';

/** ImagePipeline's operations beyond the six castforge runs itself (SPEC §3b). */
const SURFACE: ReadonlySet<OperationName> = new Set<OperationName>([
  'edit',
  'background-change',
  'background-remove',
  'branding-logo',
  'branding-template',
  'upscale',
  'segment',
]);

/**
 * Which operations this deployment runs: the union of what live workers' backends declare in their
 * heartbeats (SPEC §12), re-read at most every `cacheMs`. A submit for an operation none of them runs is
 * refused at once with a 422 that names it and the backends that would run it, rather than queued forever.
 * Before any worker has reported, `generate` (which every backend runs) is accepted and the rest refused.
 */
export function createCapabilities(deps: { redis: Redis; keys: RedisKeys; cacheMs?: number }) {
  const cacheMs = deps.cacheMs ?? 2000;
  let cached: { at: number; ops: Map<string, Set<string>> } | undefined;
  let loading: Promise<Map<string, Set<string>>> | undefined;

  const load = async () => {
    const ops = new Map<string, Set<string>>();
    for (const beat of (await liveWorkers(deps.redis, deps.keys, 60_000)).values()) {
      for (const op of beat.operations ?? []) {
        if (!ops.has(op)) ops.set(op, new Set());
        ops.get(op)!.add(beat.backend ?? 'unknown');
      }
    }
    cached = { at: Date.now(), ops };
    return ops;
  };

  const operations = async (fresh = false): Promise<Map<string, Set<string>>> => {
    if (!fresh && cached && Date.now() - cached.at < cacheMs) return cached.ops;
    loading ??= load().finally(() => (loading = undefined));
    return loading;
  };
  const runs = (ops: Map<string, Set<string>>, operation: OperationName) =>
    ops.has(operation) || (ops.size === 0 && operation === 'generate');

  return {
    operations,
    /** `loc` says where the operation was named: the path of a job's route, or a campaign's body. */
    async require(operation: OperationName, loc: (string | number)[] = ['path', 'operation']): Promise<void> {
      if (runs(await operations(), operation)) return;
      // Refused only on what the heartbeats say now: a worker that started a moment ago counts.
      const ops = await operations(true);
      if (runs(ops, operation)) return;
      // The rest of ImagePipeline's surface is 501 until a backend declares it (e.g. a ComfyUI template).
      if (SURFACE.has(operation)) {
        throw new AppError(
          'NOT_IMPLEMENTED',
          `${operationRoutes[operation]} is not run by this deployment: no configured backend declares ` +
            `${operation} (a ComfyUI workflow template named ${operation}.json would)`,
        );
      }
      const running = new Set([...ops.values()].flatMap((backends) => [...backends]));
      const now = running.size
        ? `this deployment runs ${[...running].join(', ')}`
        : 'no worker has started yet';
      throw invalidParameters(
        [
          {
            loc,
            msg:
              `no configured backend runs ${operation} (${now}); ` +
              `backends that run it: ${backendsThatCanRun(operation).join(', ')}`,
            type: 'operation_unavailable',
          },
        ],
        'INPUT_INVALID',
      );
    },
  };
}
export type Capabilities = ReturnType<typeof createCapabilities>;
