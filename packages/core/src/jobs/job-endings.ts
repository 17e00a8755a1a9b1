import { type Redis } from 'ioredis';
import { type Logger } from '../logging/logger';
import { type CampaignFinalizer } from '../campaigns/finalize';
import { type WebhookOutbox } from '../webhooks/outbox';
import { type BucketKeys, type RedisKeys } from './keys';

const GROUP = 'relay';
/** An entry a consumer took and never acknowledged (it died, or MongoDB was away) is retried after this. */
const RETRY_IDLE_MS = 15_000;

type Entry = [id: string, fields: string[]];

const asMap = (fields: string[]) => {
  const map: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i]!] = fields[i + 1]!;
  return map;
};

export interface JobEndingsStats {
  relayed: number;
  failed: number;
}

/**
 * What happens because a job or a campaign ended, written once. The scripts that end jobs record it in their
 * bucket's outbox stream in the same atomic step as the status change; this relay turns each entry into its
 * consequence — a webhook delivery, a campaign's finalization — idempotently, and only then acknowledges it.
 * A relay that dies leaves its entries pending in the consumer group; another one claims them (at least once,
 * and a repeat is a no-op: deliveries have deterministic ids, finalization is idempotent).
 */
export function createJobEndings(deps: {
  redis: Redis;
  keys: RedisKeys;
  consumer: string;
  outbox: WebhookOutbox;
  finalizeCampaign: CampaignFinalizer;
  logger: Logger;
  onRelayed?: (kind: 'job' | 'campaign') => void;
}) {
  const { redis, keys } = deps;
  const groups = new Set<number>();

  const ensureGroup = async (b: BucketKeys) => {
    if (groups.has(b.bucket)) return;
    await redis.xgroup('CREATE', b.outbox, GROUP, '0', 'MKSTREAM').catch((err: Error) => {
      if (!/BUSYGROUP/.test(err.message)) throw err;
    });
    groups.add(b.bucket);
  };

  const handle = async (fields: Record<string, string>) => {
    if (fields.k === 'j') {
      await deps.outbox.ensure({
        tenantId: fields.t!,
        event: `job.${fields.ev}`,
        jobId: fields.id,
        campaignId: fields.c ?? null,
        sealedUrl: fields.u ?? null,
      });
      deps.onRelayed?.('job');
    } else if (fields.k === 'c') {
      await deps.finalizeCampaign(fields.t!, fields.id!);
      deps.onRelayed?.('campaign');
    }
  };

  const process = async (b: BucketKeys, entries: Entry[], stats: JobEndingsStats) => {
    const done: string[] = [];
    for (const [id, fields] of entries) {
      try {
        await handle(asMap(fields));
        done.push(id);
        stats.relayed += 1;
      } catch (err) {
        stats.failed += 1;
        deps.logger.warn(
          { bucket: b.bucket, entry: id, err: (err as Error).message },
          'outbox entry will be retried',
        );
      }
    }
    if (done.length)
      await redis
        .multi()
        .xack(b.outbox, GROUP, ...done)
        .xdel(b.outbox, ...done)
        .exec();
  };

  return {
    /** One pass over every bucket's new entries (the buckets read at once; a cluster spreads them). */
    async relay(): Promise<JobEndingsStats> {
      const stats: JobEndingsStats = { relayed: 0, failed: 0 };
      await Promise.all(
        keys.allBuckets().map(async (b) => {
          await ensureGroup(b);
          const fresh = (await redis.xreadgroup(
            'GROUP',
            GROUP,
            deps.consumer,
            'COUNT',
            200,
            'STREAMS',
            b.outbox,
            '>',
          )) as [string, Entry[]][] | null;
          const entries = fresh?.[0]?.[1] ?? [];
          if (entries.length) await process(b, entries, stats);
        }),
      );
      return stats;
    },

    /** Entries whose consumer stopped before acknowledging them (it died, or what it called failed). */
    async reclaim(): Promise<JobEndingsStats> {
      const stats: JobEndingsStats = { relayed: 0, failed: 0 };
      for (const b of keys.allBuckets()) {
        await ensureGroup(b);
        // (Entries deleted since they were read are dropped from the pending list by XAUTOCLAIM itself.)
        const [, entries] = (await redis.xautoclaim(
          b.outbox,
          GROUP,
          deps.consumer,
          RETRY_IDLE_MS,
          '0',
          'COUNT',
          100,
        )) as [string, (Entry | null)[]];
        const live = entries.filter((entry): entry is Entry => Array.isArray(entry?.[1]));
        if (live.length) await process(b, live, stats);
      }
      return stats;
    },

    /** Consumers of workers that are gone, with nothing pending, leave the groups (nothing grows). */
    async pruneConsumers(live: ReadonlySet<string>): Promise<void> {
      for (const b of keys.allBuckets()) {
        const consumers = (await redis.xinfo('CONSUMERS', b.outbox, GROUP).catch(() => [])) as unknown[][];
        for (const row of consumers) {
          const info = asMap(row as string[]);
          if (info.name && !live.has(info.name) && Number(info.pending) === 0) {
            await redis.xgroup('DELCONSUMER', b.outbox, GROUP, info.name);
          }
        }
      }
    },

    /** Entries not yet relayed, across buckets (a gauge). */
    async pending(): Promise<number> {
      const lengths = await Promise.all(keys.allBuckets().map((b) => redis.xlen(b.outbox)));
      return lengths.reduce((n, len) => n + len, 0);
    },
  };
}
export type JobEndings = ReturnType<typeof createJobEndings>;
