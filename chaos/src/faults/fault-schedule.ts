import { type Random, sleep } from '../support/time';
import { type World } from '../world/world';

export interface FaultPlan {
  /** A worker is killed with SIGKILL about this often (±50 %), between killFromMs and killUntilMs. */
  killEveryMs: number;
  killFromMs: number;
  killUntilMs: number;
  /** How long a killed worker stays down before it is started again. */
  restartDelayMs: number;
  /** When Redis is killed (SIGKILL) and restarted from its AOF, or null for never. */
  redisRestartAtMs: number | null;
  /** When MongoDB is frozen (SIGSTOP … SIGCONT), for how long; null for never. */
  mongoFreezeAtMs: number | null;
  mongoFreezeMs: number;
}

export interface FaultLog {
  kills: number;
  /** Kills by worker process name. */
  killsByWorker: Record<string, number>;
  redisRestarts: { atMs: number; downMs: number }[];
  mongoFreezes: { atMs: number; ms: number }[];
}

/**
 * Injects the faults of issue #8 while the load runs, all relative to `startedAt`: SIGKILL to a random
 * worker every few seconds (restarted shortly after, as a supervisor would, like any process that died), one Redis restart, one
 * MongoDB freeze. Returns when every fault is done and every worker is running again.
 */
export async function runFaults(
  world: World,
  plan: FaultPlan,
  rng: Random,
  startedAt: number,
): Promise<FaultLog> {
  const log: FaultLog = { kills: 0, killsByWorker: {}, redisRestarts: [], mongoFreezes: [] };
  const at = (ms: number) => sleep(Math.max(0, startedAt + ms - Date.now()));
  const elapsed = () => Date.now() - startedAt;

  const kills = async () => {
    await at(plan.killFromMs);
    while (elapsed() < plan.killUntilMs) {
      const alive = world.workers.filter((w) => w.alive);
      if (alive.length) {
        const victim = rng.pick(alive);
        await victim.kill('SIGKILL');
        log.kills += 1;
        log.killsByWorker[victim.name] = (log.killsByWorker[victim.name] ?? 0) + 1;
      }
      await sleep(plan.killEveryMs * (0.5 + rng.next()));
    }
  };
  const redis = async () => {
    if (plan.redisRestartAtMs === null) return;
    await at(plan.redisRestartAtMs);
    const atMs = elapsed();
    const { downMs } = await world.redis.restart();
    log.redisRestarts.push({ atMs, downMs });
  };
  const mongo = async () => {
    if (plan.mongoFreezeAtMs === null || !world.mongo) return;
    await at(plan.mongoFreezeAtMs);
    const atMs = elapsed();
    await world.mongo.freeze(plan.mongoFreezeMs);
    log.mongoFreezes.push({ atMs, ms: plan.mongoFreezeMs });
  };
  // The supervisor: any process that is down (killed here, or died on its own) is started again.
  let faultsDone = false;
  const supervise = async () => {
    while (!faultsDone || [...world.workers, ...world.apis].some((p) => !p.alive)) {
      for (const app of [...world.workers, ...world.apis]) {
        if (!app.alive && app.diedAt !== null && Date.now() - app.diedAt >= plan.restartDelayMs) app.start();
      }
      await sleep(100);
    }
  };
  const supervisor = supervise();
  await Promise.all([kills(), redis(), mongo()]);
  faultsDone = true;
  await supervisor;
  return log;
}
