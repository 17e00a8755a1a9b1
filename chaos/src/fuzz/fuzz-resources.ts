import { type FuzzReport, type FuzzTarget } from './fuzz-run';
import { type FuzzRequest } from './request-arbitrary';

/** A profile, a job and a campaign of the fuzzing tenant, so ids in paths and bodies can name real things. */
export async function seedOwnResources(target: FuzzTarget, baseUrl: string): Promise<string[]> {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'X-API-Key': target.key, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return res.text();
  };
  const texts: string[] = [];
  for (const name of ['fuzz-a', 'fuzz-b'])
    texts.push(await post('/profiles/v1', { name, prompt_template: 'a face', width: 64, height: 64 }));
  const profileId = /prof_[0-9a-f]{16}/.exec(texts.join(' '))?.[0];
  const job = await post('/generate/image/v1', { prompt: 'seed', width: 64, height: 64 });
  texts.push(job);
  const jobId = /job_[0-9a-f]{16}/.exec(job)?.[0];
  if (jobId) await post(`/generate/image/v1/cancel/${jobId}`, undefined);
  if (jobId) target.onCreated?.({ jobId });
  if (profileId) {
    const campaign = await post('/campaigns/v1', {
      name: 'fuzz',
      profile_ids: [profileId],
      scenes: [{ prompt: 'x' }],
      variants: 2,
    });
    texts.push(campaign);
    const campaignId = /camp_[0-9a-f]{16}/.exec(campaign)?.[0];
    if (campaignId) {
      await post(`/campaigns/v1/${campaignId}/cancel`, undefined);
      target.onCreated?.({ campaignId, jobCount: 2 });
    }
  }
  return texts;
}

/** A fuzzed POST created work: cancel it at once and tell the caller, whose ledger must see it end. */
export async function cancelCreated(
  target: FuzzTarget,
  baseUrl: string,
  req: FuzzRequest,
  text: string,
  report: FuzzReport,
) {
  let body: { job_id?: unknown; campaign_id?: unknown; job_count?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return;
  }
  const cancel = (path: string) =>
    fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'X-API-Key': target.key } }).then((r) =>
      r.text(),
    );
  if (typeof body.campaign_id === 'string' && req.route.path === '/campaigns/v1') {
    report.created.campaigns += 1;
    await cancel(`/campaigns/v1/${body.campaign_id}/cancel`);
    target.onCreated?.({ campaignId: body.campaign_id, jobCount: Number(body.job_count) });
  } else if (typeof body.job_id === 'string' && req.route.path === '/generate/image/v1') {
    report.created.jobs += 1;
    await cancel(`/generate/image/v1/cancel/${body.job_id}`);
    target.onCreated?.({ jobId: body.job_id });
  }
}
