import os from 'node:os';
import { type Redis } from 'ioredis';
import { type Connection } from 'mongoose';
import { createHttpClient } from '../support/http';
import { step } from '../support/report';
import { deleteUnder } from '../support/services';
import { BARE_PROFILES, bareStatusKey } from './bare';
import { type LoadResult, type LoadTarget } from './load';
import { type LoadProcess, type ServerProcess } from './processes';

export type Scenario = 'submit' | 'submit-profile' | 'status';
export type Side = 'ours' | 'bare';

export interface ApiBenchSettings {
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** Unrecorded load on every target before the first round. */
  initialWarmupSeconds: number;
  rounds: number;
  statusJobs: number;
}

/** One measured block: a side under load for `durationSeconds`, after an unrecorded warm-up. */
export interface Block {
  scenario: Scenario;
  side: Side;
  round: number;
  load: LoadResult;
  /** User + system CPU of the server process over the block ÷ 2xx answers, microseconds. */
  cpuUsPerRequest: number;
  /** os.loadavg() when the block ended (1, 5, 15 min). */
  loadavg: number[];
}

export interface ApiSides {
  ours: ServerProcess;
  bare: ServerProcess;
  /** Every Redis key of a side's server is under its prefix. */
  prefixes: Record<Side, string>;
}

/** The bodies of the submit scenarios: small, one without a profile and one naming a profile. */
export const submitBody = { prompt: 'a red fox in fresh snow, morning light', width: 64, height: 64 };
export const profileSubmitBody = (profileId: string) => ({ ...submitBody, profile_id: profileId });

const json = { 'content-type': 'application/json' };

/** Rotates the order of the sides each round, so no side always runs first (or right after another). */
const rotate = <T>(items: T[], by: number) => items.map((_, i) => items[(i + by) % items.length]!);

export function createApiBench(deps: {
  sides: ApiSides;
  load: LoadProcess;
  admin: Redis;
  mongo: Connection;
  tenant: string;
  settings: ApiBenchSettings;
}) {
  const { sides, load, admin, settings } = deps;
  const server = (side: Side) => sides[side];
  const ourHeaders = () => ({ ...json, 'x-api-key': sides.ours.apiKey! });

  async function measure(scenario: Scenario, side: Side, round: number, target: LoadTarget): Promise<Block> {
    const serverProcess = server(side);
    await load.run(target, settings.connections, settings.warmupSeconds);
    const before = await serverProcess.cpu();
    const result = await load.run(target, settings.connections, settings.durationSeconds);
    const after = await serverProcess.cpu();
    if (result.non2xx || result.errors) {
      throw new Error(
        `${side} ${scenario}: ${result.non2xx} non-2xx answers and ${result.errors} errors in round ` +
          `${round + 1} (answers by status: ${JSON.stringify(result.statusCodes)})`,
      );
    }
    const cpuUs = after.user - before.user + (after.system - before.system);
    return {
      scenario,
      side,
      round,
      load: result,
      cpuUsPerRequest: result.requests ? cpuUs / result.requests : Number.NaN,
      loadavg: os.loadavg(),
    };
  }

  /**
   * Before the first round, every target gets `initialWarmupSeconds` of unrecorded load: the first block
   * of a cold process (JIT, connection pools, caches) otherwise measures start-up, not steady cost.
   */
  async function warmUp(targets: { target: LoadTarget }[]) {
    for (const { target } of targets) {
      await load.run(target, settings.connections, settings.initialWarmupSeconds);
    }
  }

  /**
   * A profile of the tenant, created over the public API, for the submit-with-profile scenario; the bare
   * app gets the same document (as our API returns it) in a collection of its own, indexed the same way.
   */
  async function createProfile(): Promise<string> {
    const http = createHttpClient(sides.ours.baseUrl, { 'x-api-key': sides.ours.apiKey! });
    try {
      const reply = await http.post('/profiles/v1', { name: 'bench identity', tags: ['bench'] });
      if (reply.status !== 201) throw new Error(`POST /profiles/v1: HTTP ${reply.status}`);
      const profile = reply.body as { profile_id: string };
      const bare = deps.mongo.collection(BARE_PROFILES);
      await bare.createIndex({ tenant_id: 1, profile_id: 1 }, { unique: true });
      await bare.insertOne({ ...profile, tenant_id: deps.tenant });
      return profile.profile_id;
    } finally {
      http.close();
    }
  }

  async function submitRounds(): Promise<Block[]> {
    const profileId = await createProfile();
    const targets: { scenario: Scenario; side: Side; target: LoadTarget }[] = [
      {
        scenario: 'submit',
        side: 'ours',
        target: {
          baseUrl: sides.ours.baseUrl,
          method: 'POST',
          headers: ourHeaders(),
          body: JSON.stringify(submitBody),
          paths: ['/generate/image/v1'],
        },
      },
      {
        scenario: 'submit-profile',
        side: 'ours',
        target: {
          baseUrl: sides.ours.baseUrl,
          method: 'POST',
          headers: ourHeaders(),
          body: JSON.stringify(profileSubmitBody(profileId)),
          paths: ['/generate/image/v1'],
        },
      },
      {
        scenario: 'submit',
        side: 'bare',
        target: {
          baseUrl: sides.bare.baseUrl,
          method: 'POST',
          headers: json,
          body: JSON.stringify(submitBody),
          paths: ['/generate/image/v1'],
        },
      },
      {
        scenario: 'submit-profile',
        side: 'bare',
        target: {
          baseUrl: sides.bare.baseUrl,
          method: 'POST',
          headers: json,
          body: JSON.stringify(profileSubmitBody(profileId)),
          paths: ['/generate/image/v1'],
        },
      },
    ];
    await warmUp(targets);
    for (const side of ['ours', 'bare'] as const) await deleteUnder(admin, sides.prefixes[side]);
    const blocks: Block[] = [];
    for (let round = 0; round < settings.rounds; round++) {
      for (const { scenario, side, target } of rotate(targets, round)) {
        const block = await measure(scenario, side, round, target);
        blocks.push(block);
        step(
          `round ${round + 1}: ${side} ${scenario}: ${block.load.requestsPerSecond.toFixed(0)} req/s, ` +
            `p99 ${block.load.latencyMs.p99} ms, ${block.cpuUsPerRequest.toFixed(0)} µs CPU/request, ` +
            `load ${block.loadavg[0]!.toFixed(2)}`,
        );
        // The jobs a block queued are deleted, so every block starts from the same Redis.
        await deleteUnder(admin, sides.prefixes[side]);
      }
    }
    return blocks;
  }

  /**
   * Queues `statusJobs` jobs through our API (no worker runs, so they stay queued: a status read reports
   * their place in line) and copies each one's status answer into a bare hash, so both sides read a
   * record of the same size.
   */
  async function fillStatusJobs(): Promise<string[]> {
    const http = createHttpClient(sides.ours.baseUrl, { 'x-api-key': sides.ours.apiKey! });
    const ids: string[] = [];
    try {
      for (let i = 0; i < settings.statusJobs; i++) {
        const reply = await http.post('/generate/image/v1', submitBody);
        if (reply.status !== 202) throw new Error(`POST /generate/image/v1: HTTP ${reply.status}`);
        ids.push((reply.body as { job_id: string }).job_id);
      }
      const pipeline = admin.pipeline();
      for (const id of ids) {
        const reply = await http.get(`/generate/image/v1/status/${id}`);
        if (reply.status !== 200) throw new Error(`GET status: HTTP ${reply.status}`);
        const fields = Object.entries(reply.body as Record<string, unknown>)
          .filter(([, value]) => value !== null && value !== undefined)
          .flatMap(([name, value]) => [name, typeof value === 'string' ? value : JSON.stringify(value)]);
        pipeline.hset(bareStatusKey(sides.prefixes.bare, id), ...fields);
      }
      await pipeline.exec();
    } finally {
      http.close();
    }
    return ids;
  }

  async function statusRounds(): Promise<Block[]> {
    const ids = await fillStatusJobs();
    const paths = ids.map((id) => `/generate/image/v1/status/${id}`);
    const targets: { side: Side; target: LoadTarget }[] = [
      { side: 'ours', target: { baseUrl: sides.ours.baseUrl, method: 'GET', headers: ourHeaders(), paths } },
      { side: 'bare', target: { baseUrl: sides.bare.baseUrl, method: 'GET', headers: {}, paths } },
    ];
    await warmUp(targets);
    const blocks: Block[] = [];
    for (let round = 0; round < settings.rounds; round++) {
      for (const { side, target } of rotate(targets, round)) {
        const block = await measure('status', side, round, target);
        blocks.push(block);
        step(
          `round ${round + 1}: ${side} status: ${block.load.requestsPerSecond.toFixed(0)} req/s, ` +
            `p99 ${block.load.latencyMs.p99} ms, ${block.cpuUsPerRequest.toFixed(0)} µs CPU/request, ` +
            `load ${block.loadavg[0]!.toFixed(2)}`,
        );
      }
    }
    return blocks;
  }

  return { submitRounds, statusRounds };
}
