import { type Profile } from '@castforge/client';
import { useState } from 'preact/hooks';
import { useClient } from '../session';
import { messageOf, useLoad } from '../ui/async';
import { Alert } from '../ui/field';
import { diffVersions } from './version-diff';

/** Pick two versions of the profile and see what changed between them (versions are immutable). */
export function VersionHistory(props: { profile: Profile }) {
  const client = useClient();
  const { profile } = props;
  const latest = profile.version;
  const [from, setFrom] = useState(Math.max(1, latest - 1));
  const [to, setTo] = useState(latest);
  const [showAll, setShowAll] = useState(false);
  const pair = useLoad(
    () =>
      Promise.all([
        from === latest ? profile : client.profiles.version(profile.profile_id, from),
        to === latest ? profile : client.profiles.version(profile.profile_id, to),
      ]),
    [client, profile, from, to],
  );
  const versions = Array.from({ length: latest }, (_, i) => latest - i);
  const rows = pair.data ? diffVersions(pair.data[0], pair.data[1]) : [];
  const shown = showAll ? rows : rows.filter((r) => r.changed);

  const picker = (label: string, value: number, onChange: (v: number) => void) => (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(Number(e.currentTarget.value))}>
        {versions.map((v) => (
          <option key={v} value={v}>
            v{v}
            {v === latest ? ' (current)' : ''}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <section class="history" aria-labelledby="history-title">
      <h2 id="history-title">Version history</h2>
      {latest === 1 ? (
        <p class="muted">
          Only version 1 so far: every saved edit adds a version, and jobs keep the one they were queued with.
        </p>
      ) : (
        <>
          <div class="toolbar">
            {picker('Compare', from, setFrom)}
            {picker('with', to, setTo)}
            <label class="check">
              <input
                type="checkbox"
                checked={showAll}
                onChange={(e) => setShowAll(e.currentTarget.checked)}
              />
              Show unchanged fields
            </label>
          </div>
          <Alert message={pair.error ? messageOf(pair.error) : null} />
          {pair.data && (
            <table class="diff" aria-label={`Differences between v${from} and v${to}`}>
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  <th scope="col">v{from}</th>
                  <th scope="col">v{to}</th>
                </tr>
              </thead>
              <tbody>
                {shown.length === 0 && (
                  <tr>
                    <td colSpan={3} class="muted">
                      No difference.
                    </td>
                  </tr>
                )}
                {shown.map((r) => (
                  <tr key={r.field} class={r.changed ? 'changed' : ''}>
                    <th scope="row">{r.field}</th>
                    <td class={r.changed ? 'removed' : ''}>{r.before || '—'}</td>
                    <td class={r.changed ? 'added' : ''}>{r.after || '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
