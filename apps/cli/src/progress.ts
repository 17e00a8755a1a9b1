import { type Campaign, type CastforgeClient, waitForCampaign } from '@castforge/client';

const duration = (seconds: number | null) => {
  if (seconds === null) return '—';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const m = Math.floor(seconds / 60);
  return m < 60
    ? `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
};

/** One line: a bar, the percentage, counts per status and the ETA. */
export function progressLine(campaign: Campaign, width = 30): string {
  const c = campaign.counts;
  const done = c.completed + c.failed + c.cancelled;
  const filled = Math.round((width * done) / Math.max(1, campaign.job_count));
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  const parts = [
    `${done}/${campaign.job_count}`,
    `${c.processing} running`,
    `${c.queued + c.pending} waiting`,
    ...(c.failed ? [`${c.failed} failed`] : []),
    ...(c.cancelled ? [`${c.cancelled} cancelled`] : []),
    campaign.status === 'running' ? `ETA ${duration(campaign.eta_seconds)}` : campaign.status,
  ];
  return `[${bar}] ${campaign.progress.toFixed(0).padStart(3)}%  ${parts.join(' · ')}`;
}

/**
 * Polls the campaign until it ends (the client waits out any 429), redrawing one line on a terminal (or
 * printing a line every few seconds when the output is a file or a pipe). Resolves with the final state.
 */
export async function watchCampaign(
  client: CastforgeClient,
  campaignId: string,
  out: NodeJS.WriteStream,
  options: { intervalMs?: number; signal?: AbortSignal } = {},
): Promise<Campaign> {
  const tty = out.isTTY === true;
  let lastPrinted = 0;
  const final = await waitForCampaign(client, campaignId, {
    intervalMs: options.intervalMs ?? 1000,
    maxIntervalMs: options.intervalMs ?? 1000,
    ...(options.signal && { signal: options.signal }),
    onProgress: (campaign) => {
      const line = progressLine(campaign);
      if (tty) out.write(`\r\x1b[2K${line}`);
      else if (campaign.status !== 'running' || Date.now() - lastPrinted > 5000) {
        out.write(`${line}\n`);
        lastPrinted = Date.now();
      }
    },
  });
  if (tty) out.write('\n');
  return final;
}
