import { GENERATE_ENDPOINT, type JobStatus, type Profile, isTerminal } from '@castforge/client';
import { useLocation } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { formatDuration } from '../campaigns/estimate';
import { useClient } from '../session';
import { messageOf, useLoad, usePoll } from '../ui/async';
import { Alert, Field } from '../ui/field';
import { unjoinPrompt } from './unjoin';

const when = (iso: string | null) =>
  iso ? <time dateTime={iso}>{new Date(iso).toLocaleString()}</time> : '—';
const secs = (s: number | null) => (s === null ? '—' : `${s.toFixed(2)} s`);

/** The job inspector: what ran (merged prompt, seed, profile version), when, how often, its webhooks, and a re-run. */
export function JobPage(props: { id?: string; endpoint?: string | undefined }) {
  const client = useClient();
  const id = props.id ?? '';
  // Identity operations answer their status under their own endpoint, with the same shape (SPEC §3b).
  const endpoint = props.endpoint?.startsWith('/') ? props.endpoint : GENERATE_ENDPOINT;
  const [job, setJob] = useState<JobStatus | null>(null);
  const [error, setError] = useState<unknown>(null);
  usePoll(
    async (signal) => {
      try {
        setJob(await client.jobs.status(id, endpoint, signal));
      } catch (err) {
        if (!signal.aborted) setError(err);
      }
    },
    1000,
    !job || !isTerminal(job.status),
  );
  const deliveries = useLoad(() => client.webhooks.deliveries({ job_id: id }), [client, id, job?.status]);
  const pinned = useLoad(
    async (): Promise<Profile | null> =>
      job?.profile_id && job.profile_version
        ? client.profiles.version(job.profile_id, job.profile_version)
        : null,
    [client, job?.profile_id, job?.profile_version],
  );

  if (!job) return error ? <Alert message={messageOf(error)} /> : <p aria-live="polite">Loading…</p>;
  return (
    <section aria-labelledby="job-title">
      <div class="page-head">
        <h1 id="job-title">
          Job <code>{job.job_id}</code>
        </h1>
        <span class={`status status-${job.status}`}>{job.status}</span>
        <div class="spacer" />
        {job.campaign_id && <a href={`/console/campaigns/${job.campaign_id}`}>Back to the campaign</a>}
      </div>
      <Alert message={error ? messageOf(error) : null} />
      <div class="inspector">
        <div>
          {job.status === 'completed' && job.result_url && (
            <figure>
              <img class="result" src={job.result_url} alt={`Result of ${job.job_id}`} />
              <figcaption>
                <a href={job.result_url} target="_blank" rel="noreferrer">
                  Open the image
                </a>{' '}
                · {job.result_mime_type} · {job.result_size_bytes} bytes · link expires{' '}
                {when(job.result_expires_at)}
              </figcaption>
            </figure>
          )}
          {job.status === 'failed' && (
            <div class="banner banner-error" role="status">
              {job.failure_reason_code}: {job.error} {job.retryable ? '(retryable)' : ''}
            </div>
          )}
        </div>
        <dl class="facts">
          <dt>Merged prompt</dt>
          <dd class="prompt">{job.prompt ?? '— (set once processing starts)'}</dd>
          <dt>Seed</dt>
          <dd>{job.seed ?? '—'}</dd>
          <dt>Profile</dt>
          <dd>
            {job.profile_id ? (
              <>
                <a href={`/console/profiles/${job.profile_id}`}>{pinned.data?.name ?? job.profile_id}</a> ·
                version {job.profile_version}
              </>
            ) : (
              'none'
            )}
          </dd>
          <dt>Progress</dt>
          <dd>
            {Math.round(job.progress)} %
            {job.queue_position !== null && ` · ${job.queue_position} ahead in the queue`}
          </dd>
          <dt>Queued / started / finished</dt>
          <dd>
            {when(job.queued_at)} / {when(job.started_at)} / {when(job.finished_at)}
          </dd>
          <dt>Queue wait · inference · total</dt>
          <dd>
            {secs(job.queue_wait_seconds)} · {secs(job.inference_time_seconds)} ·{' '}
            {secs(job.total_elapsed_seconds)}
          </dd>
          <dt>Attempts</dt>
          <dd>{job.attempts}</dd>
          {job.metadata && (
            <>
              <dt>Metadata</dt>
              <dd>
                <pre>{JSON.stringify(job.metadata, null, 2)}</pre>
              </dd>
            </>
          )}
        </dl>
      </div>
      {/* Other operations need their input images again, which castforge never keeps (zero data retention). */}
      {job.endpoint === GENERATE_ENDPOINT && <RunAgain job={job} profile={pinned.data ?? null} />}
      <section aria-labelledby="deliveries-title">
        <h2 id="deliveries-title">Webhook deliveries</h2>
        <Alert message={deliveries.error ? messageOf(deliveries.error) : null} />
        {deliveries.data?.deliveries.length === 0 && (
          <p class="muted">No webhook for this job (it had no callback_url).</p>
        )}
        {deliveries.data?.deliveries.map((d) => (
          <details key={d.delivery_id} open>
            <summary>
              {d.event} → {d.url} · <strong>{d.status}</strong> · {d.attempts.length} attempt(s)
            </summary>
            <table class="list">
              <thead>
                <tr>
                  <th scope="col">At</th>
                  <th scope="col">HTTP</th>
                  <th scope="col">Took</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {d.attempts.map((a, i) => (
                  <tr key={i}>
                    <td>{when(a.at)}</td>
                    <td>{a.status_code ?? '—'}</td>
                    <td>{formatDuration(a.duration_ms / 1000)}</td>
                    <td>{a.error ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        ))}
      </section>
    </section>
  );
}

/** Submits a new generate job with this job's seed and profile, and the caller's prompt recovered from the merged one. */
function RunAgain(props: { job: JobStatus; profile: Profile | null }) {
  const client = useClient();
  const { route } = useLocation();
  const { job, profile } = props;
  const guess = job.prompt === null ? null : unjoinPrompt(job.prompt, profile?.adapter_snapshot ?? null);
  const [prompt, setPrompt] = useState(guess ?? '');
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  useEffect(() => setPrompt(guess ?? ''), [guess]);
  if (job.seed === null) return null;

  const run = async (e: Event) => {
    e.preventDefault();
    setSending(true);
    setError(null);
    try {
      const queued = await client.jobs.generate({
        ...(prompt.trim() && { prompt: prompt.trim() }),
        ...(job.profile_id && { profile_id: job.profile_id }),
        seed: job.seed!,
        ...(job.metadata && { metadata: job.metadata }),
      });
      route(`/console/jobs/${queued.job_id}`);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setSending(false);
    }
  };
  return (
    <form class="run-again" onSubmit={(e) => void run(e)} aria-label="Run again with this seed">
      <h2>Run again with seed {job.seed}</h2>
      <p class="muted small">
        A new job with the same profile{job.profile_id ? ' (at its current version)' : ''} and seed. The
        prompt below is the scene prompt without the profile's identity prompt, which the API joins again.
      </p>
      <Alert message={error} />
      <Field id="run-again-prompt" label="Scene prompt">
        {(aria) => (
          <textarea {...aria} rows={2} value={prompt} onInput={(e) => setPrompt(e.currentTarget.value)} />
        )}
      </Field>
      <button type="submit" class="primary" disabled={sending}>
        {sending ? 'Submitting…' : 'Run again with this seed'}
      </button>
    </form>
  );
}
