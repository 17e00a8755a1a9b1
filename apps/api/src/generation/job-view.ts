import { type JobRecord } from '@castforge/core';
import { type JobStatus, GENERATE_IMAGE_ENDPOINT } from '@castforge/schemas';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const seconds = (ms: number | null) => (ms === null ? null : Math.round(ms) / 1000);

/** The SPEC §4 status of a record. `resultUrl` signs the link to a stored result. */
export function toJobStatus(
  record: JobRecord,
  resultUrl: (key: string, expiresAtMs: number) => string,
): JobStatus {
  const failed = record.status === 'failed' || record.status === 'cancelled';
  const pending = record.status === 'pending';
  const result = record.status === 'completed' && record.resultKey && record.resultExpiresAt !== null;
  return {
    job_id: record.jobId,
    status: record.status,
    progress: record.progress,
    endpoint: GENERATE_IMAGE_ENDPOINT,
    profile_id: record.profileId,
    profile_version: record.profileVersion,
    campaign_id: record.campaignId,
    seed: record.seed,
    prompt: record.prompt,
    result_url: result ? resultUrl(record.resultKey!, record.resultExpiresAt!) : null,
    result_mime_type: result ? record.resultMimeType : null,
    result_size_bytes: result ? record.resultSizeBytes : null,
    result_expires_at: result ? iso(record.resultExpiresAt) : null,
    queue_position: record.status === 'queued' ? (record.ahead ?? 0) : null,
    queued_at: iso(record.queuedAt)!,
    started_at: iso(record.startedAt),
    finished_at: iso(record.finishedAt),
    queue_wait_seconds: record.startedAt === null ? null : seconds(record.startedAt - record.queuedAt),
    inference_time_seconds: seconds(record.inferenceMs),
    total_elapsed_seconds: record.finishedAt === null ? null : seconds(record.finishedAt - record.queuedAt),
    attempts: record.attempts,
    metadata: record.metadata,
    // A pending job shows why its last attempt failed; it is retried after a back-off.
    error: failed || pending ? record.error : null,
    failure_reason_code: failed || pending ? record.failureReasonCode : null,
    retryable: failed || pending ? record.retryable : null,
  };
}
