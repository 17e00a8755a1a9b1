import { type CampaignJob, GENERATE_ENDPOINT } from '@castforge/client';
import { type Sheet } from './sheet-model';

/** The inspector's address; a job of another operation than generate names its endpoint for the status read. */
export const jobHref = (job: { job_id: string; endpoint: string }) =>
  job.endpoint === GENERATE_ENDPOINT
    ? `/console/jobs/${job.job_id}`
    : `/console/jobs/${job.job_id}?endpoint=${encodeURIComponent(job.endpoint)}`;

const describe = (job: CampaignJob): string => {
  switch (job.status) {
    case 'queued':
      return job.queue_position === null ? 'Queued' : `Queued · ${job.queue_position} ahead`;
    case 'pending':
      return `Retrying · attempt ${job.attempts + 1}`;
    case 'processing':
      return `Processing · ${Math.round(job.progress)} %`;
    case 'cancelled':
      return 'Cancelled';
    case 'failed':
      return `Failed · ${job.failure_reason_code ?? 'error'}`;
    case 'completed':
      return 'Done';
  }
};

/** One variant of one cell: the image once done, else its status; a link to the job inspector either way. */
function Tile(props: { job: CampaignJob; label: string }) {
  const { job, label } = props;
  return (
    <a
      class={`tile tile-${job.status}`}
      href={jobHref(job)}
      data-status={job.status}
      aria-label={`${label}: ${describe(job)}`}
      title={job.status === 'failed' ? (job.error ?? undefined) : undefined}
    >
      {job.status === 'completed' && job.result_url ? (
        <img src={job.result_url} alt={label} loading="lazy" />
      ) : (
        <span class="tile-text">
          <span class="tile-status">{describe(job)}</span>
          {job.status === 'failed' && job.error && <span class="tile-reason">{job.error}</span>}
          {job.status === 'processing' && <progress max={100} value={job.progress} aria-hidden="true" />}
        </span>
      )}
    </a>
  );
}

/** The contact sheet: identities down, scenes across, each cell's variants stacked. */
export function ContactSheet(props: { sheet: Sheet; variants: number }) {
  const { sheet } = props;
  return (
    <div class="sheet-scroll" tabIndex={0} role="region" aria-label="Contact sheet">
      <table class="sheet">
        <thead>
          <tr>
            <th scope="col" class="corner">
              Identity \ scene
            </th>
            {sheet.scenes.map((s) => (
              <th scope="col" key={s.index}>
                {s.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {sheet.identities.map((identity) => (
            <tr key={identity.index}>
              <th scope="row">
                {identity.profileId ? (
                  <a href={`/console/profiles/${identity.profileId}`}>{identity.name}</a>
                ) : (
                  identity.name
                )}
              </th>
              {sheet.scenes.map((scene) => (
                <td key={scene.index}>
                  <div class="stack">
                    {sheet.cell(identity.index, scene.index).map((job) => (
                      <Tile
                        key={job.job_id}
                        job={job}
                        label={`${identity.name} — ${scene.name}${props.variants > 1 ? `, variant ${job.variant + 1}` : ''}`}
                      />
                    ))}
                  </div>
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
