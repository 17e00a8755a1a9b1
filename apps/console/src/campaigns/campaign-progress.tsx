import { type Campaign } from '@castforge/client';
import { formatDuration } from './estimate';

const STATUS_LABEL: Record<Campaign['status'], string> = {
  running: 'Running',
  completed: 'Completed',
  completed_with_failures: 'Completed with failures',
  cancelled: 'Cancelled',
};

/** A campaign's progress bar and counts, read out as one line by assistive technology. */
export function CampaignProgress(props: { campaign: Campaign }) {
  const c = props.campaign;
  const done = c.counts.completed + c.counts.failed + c.counts.cancelled;
  return (
    <div class="progress-line">
      <span class={`status status-${c.status}`}>{STATUS_LABEL[c.status]}</span>
      <progress max={100} value={c.progress} aria-label={`${c.name}: ${Math.round(c.progress)} %`} />
      <span class="counts">
        {done}/{c.job_count} done · {c.counts.completed} images
        {c.counts.processing > 0 && ` · ${c.counts.processing} running`}
        {c.counts.queued + c.counts.pending > 0 && ` · ${c.counts.queued + c.counts.pending} waiting`}
        {c.counts.failed > 0 && ` · ${c.counts.failed} failed`}
        {c.counts.cancelled > 0 && ` · ${c.counts.cancelled} cancelled`}
        {c.status === 'running' && ` · ETA ${formatDuration(c.eta_seconds)}`}
      </span>
    </div>
  );
}
