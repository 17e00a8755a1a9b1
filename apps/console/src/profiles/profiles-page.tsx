import { type Profile } from '@castforge/client';
import { useMemo, useState } from 'preact/hooks';
import { useClient } from '../session';
import { messageOf, useLoad } from '../ui/async';
import { Alert } from '../ui/field';

/** Whether a profile matches the search text: name, description, tags or identity prompt. */
export const matches = (profile: Profile, search: string): boolean => {
  const needle = search.trim().toLowerCase();
  if (!needle) return true;
  return [
    profile.name,
    profile.description ?? '',
    profile.adapter_snapshot.prompt_template ?? '',
    ...profile.tags,
  ]
    .join('\n')
    .toLowerCase()
    .includes(needle);
};

/** The tenant's profiles with search and a tag filter. */
export function ProfilesPage() {
  const client = useClient();
  const profiles = useLoad(() => client.profiles.all(), [client]);
  const [search, setSearch] = useState('');
  const [tag, setTag] = useState('');
  const all = profiles.data ?? [];
  const tags = useMemo(() => [...new Set(all.flatMap((p) => p.tags))].sort(), [all]);
  const shown = all.filter((p) => matches(p, search) && (!tag || p.tags.includes(tag)));

  return (
    <section aria-labelledby="profiles-title">
      <div class="page-head">
        <h1 id="profiles-title">Profiles</h1>
        <a class="button primary" href="/console/profiles/new">
          New profile
        </a>
      </div>
      <div class="toolbar" role="search">
        <label>
          Search
          <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </label>
        <label>
          Tag
          <select value={tag} onChange={(e) => setTag(e.currentTarget.value)}>
            <option value="">All tags</option>
            {tags.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <span class="muted" aria-live="polite">
          {profiles.loading ? 'Loading…' : `${shown.length} of ${all.length}`}
        </span>
      </div>
      <Alert message={profiles.error ? messageOf(profiles.error) : null} />
      {!profiles.loading && all.length === 0 && !profiles.error && (
        <p class="empty">
          No profiles yet. A profile is a reusable identity: create one to cast it in campaigns.
        </p>
      )}
      {shown.length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Tags</th>
              <th scope="col">Version</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((p) => (
              <tr key={p.profile_id}>
                <td>
                  <a href={`/console/profiles/${p.profile_id}`}>{p.name}</a>
                  {p.description && <div class="muted small">{p.description}</div>}
                </td>
                <td>
                  {p.tags.map((t) => (
                    <button
                      key={t}
                      type="button"
                      class="tag"
                      aria-pressed={tag === t}
                      onClick={() => setTag(tag === t ? '' : t)}
                    >
                      {t}
                    </button>
                  ))}
                </td>
                <td>v{p.version}</td>
                <td>
                  <time dateTime={p.updated_at}>{new Date(p.updated_at).toLocaleString()}</time>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
