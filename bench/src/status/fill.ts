import { type JobStore, type LaneQueues, newJobId } from '@castforge/core';
import { createProducer } from '@castforge/api/dist/jobs/producer';
import { GenerateImageRequest, SingleJobPayload } from '@castforge/schemas';

/** How the lane is filled, printed with the results so the figures can be reproduced. */
export const FILL_METHOD =
  "per job, as POST /generate/image/v1 does: the API's producer runs the job store's CREATE script (status " +
  'record, lane order, counters) and the BullMQ add with the same id, payload and options in one MULTI. ' +
  'Batched: the MULTIs of a batch run concurrently on an auto-pipelining ioredis client.';

/** The payload the API puts in BullMQ for this request body (generation.service.ts builds it the same way). */
export function payloadFor(body: unknown): SingleJobPayload {
  const {
    callback_url: _url,
    metadata: _metadata,
    profile_id: _profile,
    priority: _priority,
    ...request
  } = GenerateImageRequest.parse(body);
  return SingleJobPayload.parse({ kind: 'single', op: 'generate', request });
}

export interface LaneFill {
  /** Job ids in the order they were queued: ids[0] is the oldest waiting job. */
  ids: string[];
  /** Stops between batches once `signal` aborts (Ctrl-C), so clean-up never races a batch in flight. */
  fillTo(depth: number, onBatch?: (queued: number) => void, signal?: AbortSignal): Promise<void>;
}

/**
 * Fills one tenant lane with waiting jobs. The record and the BullMQ job are written exactly as the API
 * writes them (same script, same fields, same job options); only the round trips are batched, so a
 * million jobs take a minute or two instead of an hour.
 */
export function createLaneFill(deps: {
  /** A job store on a client with enableAutoPipelining, so concurrent CREATEs share one pipeline. */
  jobs: JobStore;
  queues: LaneQueues;
  retry: { attempts: number; backoffMs: number };
  tenantId: string;
  lane: string;
  payload: SingleJobPayload;
  batchSize: number;
}): LaneFill {
  const ids: string[] = [];
  const producer = createProducer({ jobs: deps.jobs, queues: deps.queues, retry: deps.retry });

  const addBatch = async (size: number) => {
    const batch = Array.from({ length: size }, () => newJobId());
    const queuedAt = Date.now();
    // 0 = no jobs-in-flight limit: a million queued jobs is the point of this bench.
    await Promise.all(
      batch.map((jobId) =>
        producer.submit(
          {
            jobId,
            tenantId: deps.tenantId,
            lane: deps.lane,
            priority: 0,
            orderBase: 0,
            payload: deps.payload,
            fields: { op: 'generate', lane: deps.lane, queued_at: queuedAt, units: 20 },
          },
          0,
        ),
      ),
    );
    for (const id of batch) ids.push(id);
  };

  return {
    ids,
    async fillTo(depth, onBatch, signal) {
      while (ids.length < depth) {
        signal?.throwIfAborted();
        await addBatch(Math.min(deps.batchSize, depth - ids.length));
        onBatch?.(ids.length);
      }
    },
  };
}
