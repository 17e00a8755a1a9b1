import { type Estimator, type JobRecord } from '@castforge/core';
import { type JobStatus, operationRoutes } from '@castforge/schemas';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const seconds = (ms: number | null) => (ms === null ? null : Math.round(ms) / 1000);

/** The SPEC §4 status of a record. */
export function createJobView(deps: {
  /** Signs the link to a stored result. */
  resultUrl: (key: string, expiresAtMs: number) => string;
  estimator: Estimator;
  /** GPU_COST_PER_SECOND_USD, when set: cost_usd is inference seconds × this. */
  gpuCostPerSecondUsd?: number;
}) {
  const estimate = async (record: JobRecord): Promise<number | null> => {
    if (record.status === 'queued')
      return deps.estimator.estimateSeconds(record.units ?? 1, record.ahead ?? 0);
    if (record.status === 'processing' || record.status === 'pending') {
      const full = await deps.estimator.estimateSeconds(record.units ?? 1, 0);
      return Math.max(0, Math.round(full * (1 - record.progress / 100)));
    }
    return null;
  };

  return {
    async status(record: JobRecord): Promise<JobStatus> {
      const failed = record.status === 'failed' || record.status === 'cancelled';
      const pending = record.status === 'pending';
      const result =
        record.status === 'completed' &&
        !record.expired &&
        record.resultKey &&
        record.resultExpiresAt !== null;
      const inferenceSeconds = seconds(record.inferenceMs);
      return {
        job_id: record.jobId,
        status: record.status,
        progress: record.progress,
        endpoint: operationRoutes[record.operation],
        profile_id: record.profileId,
        profile_version: record.profileVersion,
        campaign_id: record.campaignId,
        seed: record.seed,
        prompt: record.prompt,
        result_url: result ? deps.resultUrl(record.resultKey!, record.resultExpiresAt!) : null,
        result_mime_type: result ? record.resultMimeType : null,
        result_size_bytes: result ? record.resultSizeBytes : null,
        result_expires_at: result ? iso(record.resultExpiresAt) : null,
        queue_position: record.status === 'queued' ? (record.ahead ?? 0) : null,
        queued_at: iso(record.queuedAt)!,
        started_at: iso(record.startedAt),
        finished_at: iso(record.finishedAt),
        queue_wait_seconds: record.startedAt === null ? null : seconds(record.startedAt - record.queuedAt),
        inference_time_seconds: inferenceSeconds,
        total_elapsed_seconds:
          record.finishedAt === null ? null : seconds(record.finishedAt - record.queuedAt),
        attempts: record.attempts,
        metadata: record.metadata,
        // A pending job shows why its last attempt failed; it is retried after a back-off.
        error: failed || pending ? record.error : null,
        failure_reason_code: failed || pending ? record.failureReasonCode : null,
        retryable: failed || pending ? record.retryable : null,
        ...({
          estimated_time_seconds: await estimate(record).catch(() => null),
          processing_time_seconds:
            record.startedAt !== null && record.finishedAt !== null
              ? seconds(record.finishedAt - record.startedAt)
              : null,
          warnings: record.warnings,
          prompt_hash: record.promptHash,
          cost_usd:
            deps.gpuCostPerSecondUsd !== undefined && inferenceSeconds !== null
              ? Math.round(inferenceSeconds * deps.gpuCostPerSecondUsd * 1e6) / 1e6
              : null,
        } as object),
      };
    },
  };
}
export type JobView = ReturnType<typeof createJobView>;
