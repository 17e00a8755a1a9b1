import { createLogger, createRedis, waitForRedis } from '@castforge/core';
import { type FaultLog } from '../faults/fault-schedule';
import { type Ledger } from '../load/ledger';
import { auditRedis } from '../redis-audit';
import { type World } from '../world/world';
import { checkInvariants, deliveriesByJob, jobsOwingAnEvent } from './invariants';
import { deliveryLogs, readBack } from './read-back';

/**
 * After the drain: every job and campaign of the ledger read back over the API, the delivery log of each
 * event that never arrived, Redis audited through redis-audit.ts, and the invariants checked.
 */
export async function verifyWorld(
  world: World,
  ledger: Ledger,
  faults: Pick<FaultLog, 'kills' | 'redisRestarts'>,
) {
  const back = await readBack(world, ledger);
  const admin = createRedis(world.redis.url, 'worker', createLogger({ name: 'chaos', level: 'silent' }));
  await waitForRedis(admin, 5000);
  const audit = await auditRedis(admin, world.prefix).finally(() => admin.disconnect());
  const delivered = deliveriesByJob(world.receiver.deliveries);
  const undelivered = jobsOwingAnEvent({ ledger, readBack: back }).filter(
    (job) => !delivered.get(job.jobId)?.some((d) => d.answered < 300),
  );
  const logs = await deliveryLogs(world, undelivered);
  const crashes = [...world.apis, ...world.workers].flatMap((p) => p.crashes.map((c) => `${p.name}: ${c}`));
  const verdicts = checkInvariants({
    ledger,
    readBack: back,
    deliveries: world.receiver.deliveries,
    audit,
    gpuCalls: world.gpuCalls(),
    callsByJob: world.callsByJob(),
    kills: faults.kills,
    redisRestarts: faults.redisRestarts.length,
    workers: world.workers.length,
    slotsPerWorker: world.slotsPerWorker,
    crashes,
    deliveryLogs: logs,
  });
  return { back, audit, verdicts };
}
