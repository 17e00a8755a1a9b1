import { type Profile } from '@castforge/client';
import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { useClient } from '../session';
import { messageOf, useLoad } from '../ui/async';
import { Alert } from '../ui/field';
import { ProfileForm } from './profile-form';
import { VersionHistory } from './version-history';

export function NewProfilePage() {
  const { route } = useLocation();
  return (
    <section aria-labelledby="new-profile-title">
      <h1 id="new-profile-title">New profile</h1>
      <ProfileForm
        onSaved={(p) => route(`/console/profiles/${p.profile_id}`)}
        onCancel={() => route('/console/profiles')}
      />
    </section>
  );
}

/** One profile: what it pins, edit, its version history with diffs, delete. */
export function ProfilePage(props: { id?: string }) {
  const client = useClient();
  const { route } = useLocation();
  const id = props.id ?? '';
  const loaded = useLoad(() => client.profiles.get(id), [client, id]);
  const [saved, setSaved] = useState<Profile | null>(null);
  const [editing, setEditing] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const profile = saved?.profile_id === id ? saved : loaded.data;

  if (loaded.error) return <Alert message={messageOf(loaded.error)} />;
  if (!profile) return <p aria-live="polite">Loading…</p>;

  const remove = async () => {
    if (
      !window.confirm(
        `Delete the profile "${profile.name}"? Jobs already queued still finish with their version.`,
      )
    )
      return;
    try {
      await client.profiles.delete(profile.profile_id, { ifMatch: profile.version });
      route('/console/profiles');
    } catch (err) {
      setDeleteError(messageOf(err));
    }
  };

  return (
    <section aria-labelledby="profile-title">
      <div class="page-head">
        <h1 id="profile-title">{profile.name}</h1>
        <span class="badge">v{profile.version}</span>
        <div class="spacer" />
        {!editing && (
          <button type="button" onClick={() => setEditing(true)}>
            Edit
          </button>
        )}
        <button type="button" class="danger" onClick={() => void remove()}>
          Delete
        </button>
      </div>
      <Alert message={deleteError} />
      <p class="muted small">
        <code>{profile.profile_id}</code> · created{' '}
        <time dateTime={profile.created_at}>{new Date(profile.created_at).toLocaleString()}</time>
      </p>
      {editing ? (
        <ProfileForm
          key={profile.version}
          profile={profile}
          onSaved={(p) => {
            setSaved(p);
            setEditing(false);
          }}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <dl class="facts">
          {profile.description && (
            <>
              <dt>Description</dt>
              <dd>{profile.description}</dd>
            </>
          )}
          <dt>Tags</dt>
          <dd>{profile.tags.length ? profile.tags.join(', ') : '—'}</dd>
          <dt>Identity prompt</dt>
          <dd>
            {profile.adapter_snapshot.prompt_template ?? '—'}{' '}
            <span class="muted">({profile.adapter_snapshot.prompt_template_mode})</span>
          </dd>
          <dt>Seed</dt>
          <dd>
            {profile.adapter_snapshot.seed_strategy}
            {profile.adapter_snapshot.fixed_seed !== undefined && ` ${profile.adapter_snapshot.fixed_seed}`}
          </dd>
          <dt>Size, steps</dt>
          <dd>
            {profile.adapter_snapshot.width ?? 'default'} × {profile.adapter_snapshot.height ?? 'default'},{' '}
            {profile.adapter_snapshot.steps ?? 'default'} steps
          </dd>
        </dl>
      )}
      <VersionHistory key={profile.version} profile={profile} />
    </section>
  );
}
