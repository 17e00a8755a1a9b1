import {
  AppError,
  type CampaignDoc,
  type CampaignEnqueuer,
  type CampaignSpecDoc,
  type CampaignRepository,
  type CampaignState,
  type Estimator,
  type JobStore,
  type Logger,
  type ProfileDoc,
  type ProfileRepository,
  type Sealer,
  type UrlGuard,
  campaignLaneFor,
  catalog,
  costUnits,
  invalidParameters,
  parseInput,
  promptRequired,
  resolveGeneration,
  toCampaign,
} from '@castforge/core';
import {
  type Campaign,
  CampaignCreate,
  type CampaignJob,
  type CampaignQueuedResponse,
  type ErrorDetail,
  type JobStatusName,
  type RosterEntry,
  type Scene,
  sceneSchemaFor,
} from '@castforge/schemas';
import { type Capabilities } from '../jobs/capabilities';
import { type JobView } from '../jobs/job-view';

/** A page of a campaign's jobs filtered by queued or cancelled looks at no more jobs than this. */
const SCAN_BUDGET = 2000;
/** Jobs start in index order within a few hundred, so queued ones are looked for from a little before. */
const QUEUED_SLACK = 1000;
/** Statuses only started jobs have, each kept in a per-campaign index. */
const INDEXED: readonly JobStatusName[] = ['processing', 'pending', 'completed', 'failed'];

export interface CampaignDeps {
  campaigns: CampaignRepository;
  state: CampaignState;
  enqueuer: CampaignEnqueuer;
  jobs: JobStore;
  view: JobView;
  profiles: ProfileRepository;
  estimator: Estimator;
  urlGuard: UrlGuard;
  /** Input image URLs are vetted like single jobs' (INPUT_ALLOW_LOOPBACK), never fetched here. */
  inputGuard: UrlGuard;
  capabilities: Pick<Capabilities, 'require'>;
  sealer: Sealer;
  maxJobs: number;
  maxJobsInFlight: number;
  backendDefaults: { steps: number; guidance: number };
  logger: Logger;
}

/**
 * Campaigns (SPEC §7): one request runs scenes across a roster. The request is validated whole before any
 * job exists; then the campaign is recorded and its jobs are enqueued in chunks of 1000 under a lease
 * (campaign-enqueue.ts), each carrying only its campaign and index. A campaign's jobs are ordinary jobs for status, cancel and
 * webhooks.
 */
export function createCampaignService(deps: CampaignDeps) {
  const { campaigns, state } = deps;

  /** Average cost of a job, from a sample of profile × scene pairs, for ETAs. */
  const unitsPerJob = (input: CampaignCreate, scenes: Scene[], pinned: ProfileDoc[]) => {
    const { defaults } = catalog[input.operation];
    let total = 0;
    let n = 0;
    for (const profile of pinned.slice(0, 20)) {
      for (const scene of scenes.slice(0, 20)) {
        const r = resolveGeneration(scene, profile.snapshot, deps.backendDefaults, 0, defaults);
        total += costUnits(r.steps, r.width, r.height);
        n += 1;
      }
    }
    return n ? total / n : 1;
  };

  /** A listed job: its status plus where it sits in the campaign. */
  const listedJob = (
    spec: CampaignSpecDoc,
    status: Awaited<ReturnType<JobView['status']>>,
    index: number,
  ): CampaignJob => {
    const sceneCount = spec.scenes.length;
    const profileIndex = Math.floor(index / (sceneCount * spec.variants));
    const sceneIndex = Math.floor(index / spec.variants) % sceneCount;
    return {
      ...status,
      campaign_index: index,
      profile_index: profileIndex,
      profile_name: spec.profiles[profileIndex]?.name ?? '',
      scene_index: sceneIndex,
      scene_name: spec.scene_names[sceneIndex] ?? `scene-${sceneIndex + 1}`,
      variant: index % spec.variants,
    };
  };

  /**
   * The roster's input image URLs (and the scenes' logos) vetted as a single job's are, never fetched here;
   * every bad one is reported, by where it is. Returns each roster entry's images, sealed (SPEC §9), by
   * profile index.
   */
  const vetImages = async (input: CampaignCreate, scenes: Scene[]): Promise<string[] | undefined> => {
    const fields = catalog[input.operation].imageFields;
    const checks: { url: string; loc: (string | number)[] }[] = [];
    input.roster?.forEach((entry, i) => {
      for (const field of fields) {
        const value = entry[field as keyof RosterEntry];
        const urls = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
        urls.forEach((url, j) =>
          checks.push({ url, loc: ['body', 'roster', i, field, ...(Array.isArray(value) ? [j] : [])] }),
        );
      }
    });
    if (catalog[input.operation].compositesLogo) {
      scenes.forEach((scene, i) => {
        if (typeof scene.logo_url === 'string')
          checks.push({ url: scene.logo_url, loc: ['body', 'scenes', i, 'logo_url'] });
      });
    }
    // A few at a time (each may resolve a host name); reported in the request's order.
    const refused: ErrorDetail[][] = [];
    for (let at = 0; at < checks.length; at += 32) {
      const batch = checks.slice(at, at + 32).map(({ url, loc }) =>
        deps.inputGuard.checkAtSubmit(url, loc).then(
          () => [],
          (err: unknown) => {
            if (!(err instanceof AppError) || !err.detail.length) throw err;
            return err.detail;
          },
        ),
      );
      refused.push(...(await Promise.all(batch)));
    }
    const detail = refused.flat();
    if (detail.length) throw invalidParameters(detail);
    if (!fields.length || !input.roster) return undefined;
    return input.roster.map((entry) => {
      const images = Object.fromEntries(
        fields.flatMap((field) => {
          const value = entry[field as keyof RosterEntry];
          return value === undefined ? [] : [[field, value]];
        }),
      );
      return Object.keys(images).length ? deps.sealer.seal(JSON.stringify(images)) : '';
    });
  };

  /** While the campaign is live its Redis hash is the whole view (one read); afterwards MongoDB. */
  const get = async (tenantId: string, campaignId: string): Promise<Campaign> => {
    const [live, rates] = await Promise.all([state.read(tenantId, campaignId), deps.estimator.rates()]);
    if (live) return toCampaign({ live }, rates);
    return toCampaign({ doc: await campaigns.get(tenantId, campaignId) }, rates);
  };

  return {
    async create(tenantId: string, body: unknown): Promise<CampaignQueuedResponse> {
      const input = parseInput(CampaignCreate, body, 'body');
      // What the deployment runs is said before anything about the roster (SPEC §12: 422 naming it).
      await deps.capabilities.require(input.operation, ['body', 'operation']);
      const operation = catalog[input.operation];
      // Each scene as that operation's own request takes it: its defaults apply as for a single job.
      const scenes =
        input.operation === 'generate'
          ? input.scenes
          : input.scenes.map((scene) => sceneSchemaFor(input.operation).parse(scene) as Scene);
      const jobCount = input.profile_ids.length * input.scenes.length * input.variants;
      if (jobCount > deps.maxJobs) {
        const msg = `makes ${jobCount} jobs (profiles × scenes × variants); at most ${deps.maxJobs}`;
        throw invalidParameters([{ loc: ['body'], msg, type: 'too_many_jobs' }]);
      }

      // Validated whole before anything is enqueued: every profile must be this tenant's and exist.
      const current = await deps.profiles.currentVersions(tenantId, input.profile_ids);
      const detail: ErrorDetail[] = [];
      input.profile_ids.forEach((id, index) => {
        if (!current.has(id)) {
          detail.push({
            loc: ['body', 'profile_ids', index],
            msg: `no profile ${id} (unknown or deleted)`,
            type: 'not_found',
          });
        }
      });
      if (detail.length) throw invalidParameters(detail, 'INPUT_INVALID');
      const pinned = input.profile_ids.map((id) => current.get(id)!);
      // Profiles that make no prompt alone: a scene without a prompt cannot run on them.
      const needy = operation.prompted
        ? pinned.filter((p) => promptRequired(p.snapshot)).map((p) => p.profile_id)
        : [];
      if (needy.length) {
        const msg = `is required: profile${needy.length > 1 ? 's' : ''} ${needy.slice(0, 5).join(', ')}${needy.length > 5 ? ', …' : ''} make no prompt alone`;
        input.scenes.forEach((scene, index) => {
          if (!scene.prompt) detail.push({ loc: ['body', 'scenes', index, 'prompt'], msg, type: 'missing' });
        });
      }
      if (detail.length) throw invalidParameters(detail);
      if (input.callback_url) await deps.urlGuard.checkAtSubmit(input.callback_url);
      const rosterImages = await vetImages(input, scenes);

      const now = new Date();
      // Its number gives its id and its jobs' ids (derived, nothing stored per job; see job-ids.ts).
      const campaignId = deps.jobs.ids.campaignId(await state.nextNumber());
      const spec: CampaignSpecDoc = {
        tenant_id: tenantId,
        campaign_id: campaignId,
        operation: input.operation,
        profiles: pinned.map((p) => ({ profile_id: p.profile_id, version: p.version, name: p.name })),
        ...(rosterImages && { roster_images: rosterImages }),
        scenes,
        scene_names: input.scenes.map((scene, i) => scene.name ?? `scene-${i + 1}`),
        variants: input.variants,
        created_at: now,
      };
      const doc: CampaignDoc = {
        tenant_id: tenantId,
        campaign_id: campaignId,
        name: input.name,
        job_count: jobCount,
        profile_count: pinned.length,
        scene_count: input.scenes.length,
        variants: input.variants,
        priority: input.priority,
        metadata: input.metadata ?? null,
        callback_url: input.callback_url ? deps.sealer.seal(input.callback_url) : null,
        state: 'enqueuing',
        status: 'running',
        counts: null,
        created_at: now,
        finished_at: null,
      };
      await campaigns.insert(doc, spec);
      const owner = deps.enqueuer.newOwner();
      const setup = {
        campaignId: doc.campaign_id,
        tenantId,
        name: doc.name,
        operation: input.operation,
        priority: doc.priority,
        lane: campaignLaneFor(tenantId),
        jobCount,
        perProfile: input.scenes.length * input.variants,
        variants: input.variants,
        profiles: pinned.map((p) => `${p.profile_id}:${p.version}`),
        sceneMetadata: input.scenes.map((s) => (s.metadata ? JSON.stringify(s.metadata) : '')),
        metadata: doc.metadata,
        sealedCallbackUrl: doc.callback_url,
        unitsPerJob: unitsPerJob(input, scenes, pinned),
      };
      try {
        await state.create(setup, deps.maxJobsInFlight, owner);
      } catch (err) {
        // A reply lost after Redis ran it (a timeout): then the campaign exists and goes on below. When Redis
        // cannot say, the documents stay (`enqueuing`): the periodic resume removes them once Redis says the
        // campaign never came to be, and finishes it if it did — a script held up by Redis may still run.
        const exists = await state.exists(tenantId, doc.campaign_id).catch(() => undefined);
        if (exists === undefined) throw err;
        if (!exists) {
          await campaigns.remove(tenantId, doc.campaign_id).catch(() => undefined);
          throw err;
        }
      }
      // From here the campaign is accepted: if enqueuing stops half-way (a Redis blip, this process dying),
      // its lease runs out and another process (API or worker) finishes it. The answer is 202 either way.
      try {
        if (await deps.enqueuer.enqueue(tenantId, doc.campaign_id, owner))
          await campaigns.markEnqueued(doc.campaign_id);
      } catch (err) {
        deps.logger.warn(
          { campaign_id: doc.campaign_id, err: (err as Error).message },
          'enqueuing paused; another process will finish it',
        );
      }
      return {
        campaign_id: doc.campaign_id,
        job_count: jobCount,
        status: 'running',
        created_at: now.toISOString(),
      };
    },

    /**
     * Campaigns a process left half-enqueued are taken over and finished (their lease ran out); a campaign
     * recorded in MongoDB whose Redis state never came to be (the API died in between) was never accepted,
     * and is removed.
     */
    async resumeEnqueues(): Promise<void> {
      await deps.enqueuer.resumeStalled();
      for (const doc of await campaigns.unfinishedEnqueues()) {
        if (Date.now() - doc.created_at.getTime() < 60_000) continue;
        const live = await state.read(doc.tenant_id, doc.campaign_id);
        if (!live) await campaigns.remove(doc.tenant_id, doc.campaign_id);
        else if (live.enqueued >= live.jobCount) await campaigns.markEnqueued(doc.campaign_id);
      }
    },

    get,

    async list(tenantId: string, query: { limit: number; cursor?: string }) {
      const { docs, nextCursor } = await campaigns.list(tenantId, query);
      const [lives, rates] = await Promise.all([
        Promise.all(docs.map((doc) => state.read(tenantId, doc.campaign_id))),
        deps.estimator.rates(),
      ]);
      return {
        campaigns: docs.map((doc, i) => {
          const live = lives[i];
          return toCampaign(live ? { live } : { doc }, rates);
        }),
        next_cursor: nextCursor,
      };
    },

    /** A page of a campaign's jobs in index order, optionally of one status. */
    async jobs(
      tenantId: string,
      campaignId: string,
      query: { status?: JobStatusName; limit: number; cursor?: string },
    ) {
      const [spec, live] = await Promise.all([
        campaigns.spec(tenantId, campaignId),
        state.read(tenantId, campaignId),
      ]);
      if (!spec) throw new AppError('NOT_FOUND', `campaign ${campaignId} not found`);
      if (!live) {
        throw new AppError(
          'GONE',
          `the jobs of campaign ${campaignId} are no longer kept (its results expired)`,
        );
      }
      const jobCount = live.jobCount;
      let from = query.cursor !== undefined ? Number(query.cursor) : 0;
      const found: CampaignJob[] = [];

      if (query.status && INDEXED.includes(query.status)) {
        const entries = await state.jobsByStatus(tenantId, campaignId, query.status, from, query.limit + 1);
        const records = await deps.jobs.readMany(
          tenantId,
          entries.slice(0, query.limit).map((e) => e.jobId),
        );
        for (const [i, record] of records.entries()) {
          if (record) found.push(listedJob(spec, await deps.view.status(record), entries[i]!.index));
        }
        const next = entries[query.limit];
        return { jobs: found, next_cursor: next ? String(next.index) : null };
      }

      // No filter, or queued/cancelled (which jobs without records have): walk the index range.
      if (query.status === 'queued' && query.cursor === undefined) {
        from = Math.max(0, jobCount - live.counts.queued - QUEUED_SLACK);
      }
      const end = Math.min(jobCount, from + (query.status ? SCAN_BUDGET : query.limit));
      let at = from;
      while (at < end && found.length < query.limit) {
        const ids = state.jobIds(campaignId, at, Math.min(200, end - at));
        if (!ids.length) break;
        const records = await deps.jobs.readMany(tenantId, ids);
        for (let i = 0; i < records.length && found.length < query.limit; i++, at++) {
          const record = records[i];
          if (record && (!query.status || record.status === query.status)) {
            found.push(listedJob(spec, await deps.view.status(record), at));
          }
        }
      }
      return { jobs: found, next_cursor: at < jobCount ? String(at) : null };
    },

    /** The script cancels every job, tells the workers, and records the events: nothing is left half done. */
    async cancel(tenantId: string, campaignId: string): Promise<Campaign> {
      const outcome = await state.cancel(tenantId, campaignId);
      if (outcome.outcome === 'missing') throw new AppError('NOT_FOUND', `campaign ${campaignId} not found`);
      if (outcome.outcome === 'ended') {
        throw new AppError('CONFLICT', `campaign ${campaignId} has already ended; nothing to cancel`);
      }
      return get(tenantId, campaignId);
    },
  };
}
export type CampaignService = ReturnType<typeof createCampaignService>;
