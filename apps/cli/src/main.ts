import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  ApiError,
  type CastforgeClient,
  type Profile,
  type ProfileCreate,
  createCastforgeClient,
} from '@castforge/client';
import { downloadCampaign } from './download';
import { readData, rosterProfiles, sceneFile } from './files';
import { watchCampaign } from './progress';

const USAGE = `castforge — run casting and localisation campaigns against a castforge server

  castforge profiles create <roster.yaml|json>
      Create the roster's profiles (one per entry; an existing profile of the same name is reused).

  castforge campaign run --roster <roster.yaml> --scenes <scenes.yaml> [--variants N] [--name NAME]
                         [--out DIR] [--callback-url URL] [--new]
      Create the roster's profiles, launch the campaign, show its progress to the end, then download
      every image into DIR/<profile>/<scene>/<variant>.<ext>. Running the same command again resumes
      it (same campaign, downloads skip files already there); --new starts another campaign.

  castforge campaign watch <campaign_id>       progress bar until the campaign ends
  castforge campaign download <campaign_id> [--out DIR]   (resumable)
  castforge campaign cancel <campaign_id>
  castforge campaign status <campaign_id>      the campaign as JSON

  Server and key: --url (or CASTFORGE_URL, default http://localhost:8080) and --key (or
  CASTFORGE_API_KEY; for a local \`npm start\`, the demo key in .data/demo-api-key is used).`;

const say = (line: string) => process.stdout.write(`${line}\n`);

function apiKey(explicit: string | undefined): string {
  const key = explicit ?? process.env.CASTFORGE_API_KEY;
  if (key) return key;
  const demo = path.resolve('.data', 'demo-api-key');
  if (existsSync(demo)) return readFileSync(demo, 'utf8').trim();
  throw new Error('no API key: pass --key, or set CASTFORGE_API_KEY');
}

/** Creates the roster's profiles, reusing any of the tenant's profiles with the same name. */
async function ensureProfiles(client: CastforgeClient, rosterFile: string): Promise<Profile[]> {
  const roster = rosterProfiles(await readData(rosterFile), rosterFile);
  const existing = new Map((await client.profiles.all()).map((p) => [p.name, p]));
  const profiles: Profile[] = [];
  for (const entry of roster) {
    const name = entry.name as string;
    let profile = existing.get(name);
    if (profile) {
      say(`  = ${name} (${profile.profile_id}, existing)`);
    } else {
      // The roster file is checked by the API, which names any bad field in its 422.
      profile = await client.profiles.create(entry as ProfileCreate);
      existing.set(name, profile);
      say(`  + ${name} (${profile.profile_id})`);
    }
    profiles.push(profile);
  }
  return profiles;
}

function reportDownload(report: Awaited<ReturnType<typeof downloadCampaign>>, out: string) {
  say(`downloaded ${report.downloaded}, already there ${report.skipped}, into ${out}`);
  for (const f of report.failed) say(`  ! ${f.jobId}: ${f.reason}`);
  if (report.failed.length) process.exitCode = 1;
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      roster: { type: 'string' },
      scenes: { type: 'string' },
      variants: { type: 'string' },
      name: { type: 'string' },
      out: { type: 'string' },
      'callback-url': { type: 'string' },
      new: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [area, command, target] = positionals;
  if (!area || values.help) {
    say(USAGE);
    if (!values.help) process.exitCode = 2;
    return;
  }
  const client = createCastforgeClient({
    baseUrl: values.url ?? process.env.CASTFORGE_URL ?? 'http://localhost:8080',
    apiKey: apiKey(values.key),
  });
  const out = path.resolve(values.out ?? 'castforge-results');
  const needId = () => {
    if (!target) throw new Error(`${area} ${command} needs a campaign id`);
    return target;
  };

  if (area === 'profiles' && command === 'create' && target) {
    say(`profiles from ${target}:`);
    await ensureProfiles(client, target);
    return;
  }
  if (area !== 'campaign') throw new Error(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`);

  switch (command) {
    case 'run': {
      if (!values.roster || !values.scenes) throw new Error('campaign run needs --roster and --scenes');
      say(`profiles from ${values.roster}:`);
      const profiles = await ensureProfiles(client, values.roster);
      const scenes = sceneFile(await readData(values.scenes), values.scenes);
      const body = {
        name: values.name ?? scenes.name ?? path.basename(values.scenes, path.extname(values.scenes)),
        profile_ids: profiles.map((p) => p.profile_id),
        scenes: scenes.scenes,
        variants: values.variants ? Number(values.variants) : (scenes.variants ?? 1),
        ...(values['callback-url'] && { callback_url: values['callback-url'] }),
      };
      // The same command again continues the same campaign rather than starting a second one.
      const digest = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 32);
      const key = values.new ? `cli-${digest}-${Date.now()}` : `cli-${digest}`;
      const created = await client.campaigns.create(body, { idempotencyKey: key });
      say(`campaign ${created.campaign_id}: ${created.job_count} jobs`);
      const final = await watchCampaign(client, created.campaign_id, process.stdout);
      reportDownload(await downloadCampaign(client, created.campaign_id, out), out);
      if (final.status !== 'completed') process.exitCode = 1;
      return;
    }
    case 'watch': {
      const final = await watchCampaign(client, needId(), process.stdout);
      if (final.status !== 'completed') process.exitCode = 1;
      return;
    }
    case 'download':
      reportDownload(await downloadCampaign(client, needId(), out), out);
      return;
    case 'cancel': {
      const campaign = await client.campaigns.cancel(needId());
      say(`campaign ${campaign.campaign_id}: ${campaign.status}`);
      return;
    }
    case 'status':
      say(JSON.stringify(await client.campaigns.get(needId()), null, 2));
      return;
    default:
      throw new Error(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ApiError && err.body?.detail?.length) {
    process.stderr.write(`castforge: ${err.message}\n`);
    for (const d of err.body.detail) process.stderr.write(`  ${d.loc.join('.')}: ${d.msg}\n`);
  } else {
    process.stderr.write(`castforge: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exit(1);
});
