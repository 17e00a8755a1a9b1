import { type Campaign, type CampaignJob, campaignJobs } from '@castforge/client';
import { useMemo, useRef, useState } from 'preact/hooks';
import { useClient } from '../session';
import { messageOf, usePoll } from '../ui/async';
import { Alert } from '../ui/field';
import { CampaignProgress } from './campaign-progress';
import { ContactSheet } from './contact-sheet';
import { buildSheet, safeName } from './sheet-model';
import { saveFile, zipResults } from './zip';

/** The sheet shows at most this many jobs (10 pages); the zip and the CLI get every one. */
const SHEET_MAX_JOBS = 1000;

/** A campaign's contact sheet, live while it runs, with cancel and download-all. */
export function CampaignPage(props: { id?: string }) {
  const client = useClient();
  const id = props.id ?? '';
  const [campaign, setCampaign] = useState<Campaign | null>(null);
  const [jobs, setJobs] = useState<CampaignJob[]>([]);
  const [truncated, setTruncated] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const settled = useRef(false);

  const refresh = async (signal?: AbortSignal) => {
    try {
      const c = await client.campaigns.get(id, signal);
      const list: CampaignJob[] = [];
      for await (const job of campaignJobs(client, id, { ...(signal && { signal }) })) {
        if (list.length >= SHEET_MAX_JOBS) {
          setTruncated(true);
          break;
        }
        list.push(job);
      }
      setCampaign(c);
      setJobs(list);
      setError(null);
      // One last read after the campaign ended catches the final state of every job, then polling stops.
      if (c.status !== 'running') settled.current = true;
    } catch (err) {
      if (!signal?.aborted) setError(err);
    }
  };
  const live = !settled.current || campaign?.status === 'running';
  usePoll(refresh, 1500, live);

  const sheet = useMemo(() => buildSheet(jobs), [jobs]);

  const cancel = async () => {
    if (!campaign) return;
    setBusy('Cancelling…');
    try {
      setCampaign(await client.campaigns.cancel(campaign.campaign_id));
      settled.current = false;
      await refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const download = async () => {
    if (!campaign) return;
    setNotice(null);
    setBusy('Preparing the zip…');
    try {
      const everything: CampaignJob[] = [];
      for await (const job of campaignJobs(client, campaign.campaign_id, { status: 'completed' }))
        everything.push(job);
      const { zip, files, failed } = await zipResults(client, everything, (done, total) =>
        setBusy(`Downloading ${done}/${total}…`),
      );
      saveFile(zip, `${safeName(campaign.name)}.zip`);
      setNotice(`${files} images zipped${failed.length ? `; ${failed.length} could not be fetched` : ''}.`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  if (!campaign) {
    return error ? <Alert message={messageOf(error)} /> : <p aria-live="polite">Loading…</p>;
  }
  return (
    <section aria-labelledby="campaign-title">
      <div class="page-head">
        <h1 id="campaign-title">{campaign.name}</h1>
        <div class="spacer" />
        {campaign.status === 'running' && (
          <button type="button" class="danger" onClick={() => void cancel()} disabled={busy !== null}>
            Cancel campaign
          </button>
        )}
        <button
          type="button"
          onClick={() => void download()}
          disabled={busy !== null || campaign.counts.completed === 0}
        >
          Download all (zip)
        </button>
      </div>
      <CampaignProgress campaign={campaign} />
      <p class="muted small" aria-live="polite">
        {busy ?? notice ?? ''}
      </p>
      <Alert message={error ? messageOf(error) : null} />
      {truncated && (
        <p class="banner">
          The sheet shows the first {SHEET_MAX_JOBS} of {campaign.job_count} jobs; “Download all” gets every
          image.
        </p>
      )}
      <ContactSheet sheet={sheet} variants={campaign.variants} />
    </section>
  );
}
