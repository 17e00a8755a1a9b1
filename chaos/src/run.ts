import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type FaultLog, runFaults } from './faults/fault-schedule';
import { type FuzzReport, runFuzz } from './fuzz/fuzz-run';
import { runLoad } from './load/driver';
import { type Ledger, createLedger } from './load/ledger';
import { type RunSettings } from './options';
import { type RedisAudit } from './redis-audit';
import { seededRandom } from './support/time';
import { type Verdict } from './verify/invariants';
import { drain } from './verify/drain';
import { type ReadBack } from './verify/read-back';
import { verifyWorld } from './verify/verify-world';
import { startWorld } from './world/world';

export const LOAD_TENANTS = ['alpha', 'beta'];
export const FUZZ_TENANTS = ['fuzz', 'fuzz-other'];

export interface ChaosResult {
  settings: RunSettings;
  runDir: string;
  ledger: Ledger;
  faults: FaultLog;
  fuzz: FuzzReport | null;
  readBack: ReadBack;
  audit: RedisAudit;
  verdicts: Verdict[];
  figures: {
    gpuCalls: number;
    maxOpenPerEndpoint: number;
    deliveries: number;
    webhookIds: number;
    answeredByStatus: Record<number, number>;
    slowest: { ms: number; what: string };
    processRestarts: number;
    drainedCleanly: boolean;
    phasesMs: Record<string, number>;
  };
}

/**
 * One chaos run: the world up, the mixed load with faults, the fuzz once the faults are over, a bounded
 * drain, then the read-back and the invariants; the world is stopped whatever happens.
 */
export async function runChaos(settings: RunSettings, step: (line: string) => void): Promise<ChaosResult> {
  const runDir = mkdtempSync(path.join(tmpdir(), 'castforge-chaos-'));
  const phasesMs: Record<string, number> = {};
  let mark = Date.now();
  const phase = (name: string) => {
    phasesMs[name] = Date.now() - mark;
    mark = Date.now();
  };
  step(`run directory ${runDir} (logs in logs/), seed ${settings.seed}`);
  const world = await startWorld({
    runDir,
    redisPort: settings.redisPort,
    apis: settings.apis,
    workers: settings.workers,
    endpointsPerWorker: settings.endpointsPerWorker,
    imageMs: settings.imageMs,
    maxStalled: settings.maxStalled,
    lockMs: 3000,
    stalledIntervalMs: 1500,
    tenants: [...LOAD_TENANTS, ...FUZZ_TENANTS],
    logLevel: settings.logLevel,
  });
  let ok = false;
  try {
    phase('setup');
    step(
      `world up: redis :${world.redis.port} (AOF, appendfsync always), ${world.apis.length} API, ${world.workers.length} workers × ${world.slotsPerWorker} GPU stubs`,
    );
    const ledger = createLedger();
    const rng = seededRandom(settings.seed);
    const loadMs = settings.loadSeconds * 1000;
    const started = Date.now();
    step(
      `load for ${settings.loadSeconds} s: ~${settings.singleJobs} single jobs, ${2 * settings.campaignsPerTenant} campaigns of ~${settings.campaignJobs}; faults on`,
    );
    // The fuzz starts when the faults are over (outages would make 503s and hangs of their own) and may
    // run until the drain's deadline (30 s more in the default run, so a busy machine still sends 10,000).
    const fuzzDeadline = started + loadMs + settings.drainSeconds * 1000 + (settings.quick ? 0 : 30_000);
    let fuzz: FuzzReport | null = null;
    let fuzzing: Promise<unknown> = Promise.resolve();
    const [, faults] = await Promise.all([
      runLoad(
        world,
        ledger,
        {
          seconds: settings.loadSeconds,
          singleJobs: settings.singleJobs,
          campaignsPerTenant: settings.campaignsPerTenant,
          campaignJobs: settings.campaignJobs,
          heldEverySeconds: settings.quick ? 4 : 8,
          heldMs: 2500,
          tenants: LOAD_TENANTS,
        },
        rng,
      ),
      runFaults(
        world,
        {
          killEveryMs: settings.killEveryMs,
          killFromMs: Math.min(3000, loadMs * 0.1),
          killUntilMs: loadMs * 0.8,
          restartDelayMs: 500,
          redisRestartAtMs: loadMs * 0.35,
          mongoFreezeAtMs: loadMs * 0.55,
          mongoFreezeMs: 10_000,
        },
        seededRandom(settings.seed + 1),
        started,
      ).then((log) => {
        if (settings.fuzzRuns) {
          step(`faults over: fuzzing ${settings.fuzzRuns} requests (at most until the drain's deadline)`);
          fuzzing = runFuzz({
            baseUrls: world.apiUrls,
            key: world.keys[FUZZ_TENANTS[0]!]!,
            otherKey: world.keys[FUZZ_TENANTS[1]!]!,
            acceptedCallbackUrl: world.receiver.fuzzUrl(),
            runs: settings.fuzzRuns,
            seed: settings.seed,
            deadline: fuzzDeadline,
            onCreated: (c) => recordFuzzCreation(ledger, c),
          }).then((report) => (fuzz = report));
        }
        return log;
      }),
    ]);
    phase('load');
    step(
      `load done: ${ledger.totalJobs()} jobs accepted; ${faults.kills} kills, ${faults.redisRestarts.length} Redis restart, ${faults.mongoFreezes.length} MongoDB freeze`,
    );
    const drainedCleanly = await drain(world, settings.drainSeconds * 1000, fuzzing, step);
    await fuzzing;
    phase('drain');
    step(
      `drain ${drainedCleanly ? 'done' : `stopped after ${settings.drainSeconds} s with work left`}; reading back`,
    );

    const { back, audit, verdicts } = await verifyWorld(world, ledger, faults);
    phase('verify');
    ok = verdicts.every((v) => v.pass) && (fuzz === null || (fuzz as FuzzReport).findings.length === 0);
    return {
      settings,
      runDir,
      ledger,
      faults,
      fuzz,
      readBack: back,
      audit,
      verdicts,
      figures: {
        gpuCalls: world.gpuCalls(),
        maxOpenPerEndpoint: Math.max(...world.gpus.flat().map((g) => g.maxOpen)),
        deliveries: world.receiver.deliveries.length,
        webhookIds: new Set(world.receiver.deliveries.map((d) => d.webhookId)).size,
        answeredByStatus: Object.fromEntries(world.client.statusCounts),
        slowest: world.client.slowest,
        processRestarts: [...world.apis, ...world.workers].reduce((n, p) => n + p.restarts, 0),
        drainedCleanly,
        phasesMs,
      },
    };
  } finally {
    await world.stop();
    if (ok && !settings.keep) rmSync(runDir, { recursive: true, force: true });
  }
}

function recordFuzzCreation(ledger: Ledger, c: { jobId?: string; campaignId?: string; jobCount?: number }) {
  if (c.jobId)
    ledger.addJob({
      jobId: c.jobId,
      tenant: FUZZ_TENANTS[0]!,
      source: 'fuzz',
      campaignId: null,
      callback: null,
      priority: 0,
      held: false,
    });
  if (c.campaignId)
    ledger.addCampaign({
      campaignId: c.campaignId,
      tenant: FUZZ_TENANTS[0]!,
      source: 'fuzz',
      jobCount: c.jobCount ?? 0,
      callback: null,
    });
}
