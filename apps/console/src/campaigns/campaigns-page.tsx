import { type Campaign } from '@castforge/client';
import { useState } from 'preact/hooks';
import { useClient } from '../session';
import { messageOf, usePoll } from '../ui/async';
import { Alert } from '../ui/field';
import { CampaignProgress } from './campaign-progress';

/** The tenant's campaigns, newest first, their progress live while any runs. */
export function CampaignsPage() {
  const client = useClient();
  const [campaigns, setCampaigns] = useState<Campaign[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const running = campaigns === null || campaigns.some((c) => c.status === 'running');
  usePoll(
    async () => {
      try {
        setCampaigns((await client.campaigns.list({ limit: 50 })).campaigns);
        setError(null);
      } catch (err) {
        setError(err);
      }
    },
    2000,
    running,
  );

  return (
    <section aria-labelledby="campaigns-title">
      <div class="page-head">
        <h1 id="campaigns-title">Campaigns</h1>
        <a class="button primary" href="/console/campaigns/new">
          New campaign
        </a>
      </div>
      <Alert message={error ? messageOf(error) : null} />
      {campaigns?.length === 0 && (
        <p class="empty">No campaigns yet. A campaign casts scenes across a roster of profiles in one go.</p>
      )}
      {campaigns && campaigns.length > 0 && (
        <ul class="campaign-list">
          {campaigns.map((c) => (
            <li key={c.campaign_id}>
              <a href={`/console/campaigns/${c.campaign_id}`} class="campaign-name">
                {c.name}
              </a>
              <span class="muted small">
                {c.profile_count} identities × {c.scene_count} scenes × {c.variants} variants ·{' '}
                <time dateTime={c.created_at}>{new Date(c.created_at).toLocaleString()}</time>
              </span>
              <CampaignProgress campaign={c} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
