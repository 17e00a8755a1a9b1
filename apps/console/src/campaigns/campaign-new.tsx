import { ApiError, type CampaignCreate, type Profile } from '@castforge/client';
import { useLocation } from 'preact-iso';
import { useMemo, useState } from 'preact/hooks';
import { matches } from '../profiles/profiles-page';
import { useClient } from '../session';
import { messageOf, useLoad } from '../ui/async';
import { Alert, Field } from '../ui/field';
import { type SceneDraft, estimateCampaign, formatDuration, measuredPace } from './estimate';

/** A fresh Idempotency-Key per form: a double submit gives the same campaign, never two. (Works over plain http too.) */
const newKey = () =>
  `console-${Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('')}`;

const blankScene = (): SceneDraft => ({ name: '', prompt: '', steps: '' });

/** The request body from the form. Scene steps apply to profiles that pin none. */
export function campaignBody(input: {
  name: string;
  profiles: readonly Profile[];
  scenes: readonly SceneDraft[];
  variants: number;
  priority: number;
}): CampaignCreate {
  return {
    name: input.name.trim(),
    profile_ids: input.profiles.map((p) => p.profile_id),
    scenes: input.scenes.map((s) => ({
      ...(s.name.trim() && { name: s.name.trim() }),
      ...(s.prompt.trim() && { prompt: s.prompt.trim() }),
      ...(s.steps.trim() && { num_inference_steps: Number(s.steps) }),
    })),
    variants: input.variants,
    priority: input.priority,
  };
}

/** Launch a campaign: a roster of profiles × scenes × variants, with the job count and an estimate first. */
export function NewCampaignPage() {
  const client = useClient();
  const { route } = useLocation();
  const profiles = useLoad(() => client.profiles.all(), [client]);
  const history = useLoad(() => client.campaigns.list({ limit: 20 }), [client]);
  const [key] = useState(newKey);
  const [name, setName] = useState('');
  const [filter, setFilter] = useState('');
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [scenes, setScenes] = useState<SceneDraft[]>([blankScene()]);
  const [variants, setVariants] = useState('1');
  const [priority, setPriority] = useState('0');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);

  const all = profiles.data ?? [];
  const roster = all.filter((p) => picked.has(p.profile_id));
  const visible = all.filter((p) => matches(p, filter));
  const estimate = useMemo(
    () =>
      estimateCampaign({
        profiles: roster,
        scenes,
        variants: Number(variants),
        pace: measuredPace(history.data?.campaigns ?? []),
      }),
    [roster, scenes, variants, history.data],
  );

  const toggle = (id: string, on: boolean) =>
    setPicked((s) => {
      const next = new Set(s);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  const setScene = (i: number, field: keyof SceneDraft, value: string) =>
    setScenes((list) => list.map((s, j) => (j === i ? { ...s, [field]: value } : s)));

  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setFormError(null);
    setSending(true);
    try {
      const created = await client.campaigns.create(
        campaignBody({
          name,
          profiles: roster,
          scenes,
          variants: Number(variants),
          priority: Number(priority),
        }),
        { idempotencyKey: key },
      );
      route(`/console/campaigns/${created.campaign_id}`);
    } catch (err) {
      if (err instanceof ApiError && err.body?.detail?.length) {
        const byField: Record<string, string> = {};
        const rest: string[] = [];
        for (const d of err.body.detail) {
          const loc = (d.loc[0] === 'body' ? d.loc.slice(1) : d.loc).map(String);
          const field =
            loc[0] === 'scenes' && loc.length >= 3 ? `scenes.${loc[1]}.${loc[2]}` : (loc[0] ?? '');
          if (['name', 'profile_ids', 'variants', 'priority'].includes(field) || field.startsWith('scenes.'))
            byField[field] = byField[field] ? `${byField[field]}; ${d.msg}` : d.msg;
          else rest.push(`${loc.join('.')}: ${d.msg}`);
        }
        setErrors(byField);
        setFormError(
          rest.length ? rest.join(' · ') : 'The API refused some fields; each one says why below.',
        );
      } else setFormError(messageOf(err));
    } finally {
      setSending(false);
    }
  };

  return (
    <section aria-labelledby="new-campaign-title">
      <h1 id="new-campaign-title">New campaign</h1>
      <form onSubmit={(e) => void submit(e)} noValidate aria-label="New campaign">
        <Alert message={formError} />
        <Field id="campaign-name" label="Campaign name" error={errors.name}>
          {(aria) => (
            <input {...aria} value={name} onInput={(e) => setName(e.currentTarget.value)} required />
          )}
        </Field>

        <fieldset aria-describedby={errors.profile_ids ? 'roster-error' : undefined}>
          <legend>Roster ({roster.length} picked)</legend>
          <div class="toolbar">
            <label>
              Filter
              <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
            </label>
            <button
              type="button"
              onClick={() => setPicked(new Set([...picked, ...visible.map((p) => p.profile_id)]))}
            >
              Pick all shown
            </button>
            <button type="button" onClick={() => setPicked(new Set())}>
              Clear
            </button>
          </div>
          {errors.profile_ids && (
            <p class="field-error" id="roster-error">
              {errors.profile_ids}
            </p>
          )}
          <Alert message={profiles.error ? messageOf(profiles.error) : null} />
          {profiles.data && all.length === 0 && (
            <p class="empty">
              No profiles yet: <a href="/console/profiles/new">create one</a> first.
            </p>
          )}
          <ul class="roster">
            {visible.map((p) => (
              <li key={p.profile_id}>
                <label class="check">
                  <input
                    type="checkbox"
                    checked={picked.has(p.profile_id)}
                    onChange={(e) => toggle(p.profile_id, e.currentTarget.checked)}
                  />
                  {p.name}
                  {p.tags.length > 0 && <span class="muted small"> {p.tags.join(', ')}</span>}
                </label>
              </li>
            ))}
          </ul>
        </fieldset>

        <fieldset>
          <legend>Scenes ({scenes.length})</legend>
          {scenes.map((s, i) => (
            <div class="scene-row" key={i} role="group" aria-label={`Scene ${i + 1}`}>
              <Field id={`scene-${i}-name`} label={`Scene ${i + 1} name`} error={errors[`scenes.${i}.name`]}>
                {(aria) => (
                  <input
                    {...aria}
                    value={s.name}
                    onInput={(e) => setScene(i, 'name', e.currentTarget.value)}
                  />
                )}
              </Field>
              <Field
                id={`scene-${i}-prompt`}
                label={`Scene ${i + 1} prompt`}
                error={errors[`scenes.${i}.prompt`]}
              >
                {(aria) => (
                  <textarea
                    {...aria}
                    rows={2}
                    value={s.prompt}
                    onInput={(e) => setScene(i, 'prompt', e.currentTarget.value)}
                  />
                )}
              </Field>
              <Field
                id={`scene-${i}-steps`}
                label={`Scene ${i + 1} steps`}
                hint="For profiles that pin none"
                error={errors[`scenes.${i}.num_inference_steps`]}
              >
                {(aria) => (
                  <input
                    {...aria}
                    inputMode="numeric"
                    value={s.steps}
                    onInput={(e) => setScene(i, 'steps', e.currentTarget.value)}
                  />
                )}
              </Field>
              {scenes.length > 1 && (
                <button
                  type="button"
                  class="link"
                  onClick={() => setScenes(scenes.filter((_, j) => j !== i))}
                >
                  Remove scene {i + 1}
                </button>
              )}
            </div>
          ))}
          <button type="button" onClick={() => setScenes([...scenes, blankScene()])}>
            Add a scene
          </button>
        </fieldset>

        <div class="grid-fields">
          <Field id="campaign-variants" label="Variants per identity × scene" error={errors.variants}>
            {(aria) => (
              <input
                {...aria}
                type="number"
                min={1}
                max={16}
                value={variants}
                onInput={(e) => setVariants(e.currentTarget.value)}
              />
            )}
          </Field>
          <Field id="campaign-priority" label="Priority (0–10)" error={errors.priority}>
            {(aria) => (
              <input
                {...aria}
                type="number"
                min={0}
                max={10}
                value={priority}
                onInput={(e) => setPriority(e.currentTarget.value)}
              />
            )}
          </Field>
        </div>

        <div class="summary" aria-live="polite" data-testid="campaign-estimate">
          <strong>
            {roster.length} × {scenes.length} × {Number(variants) || 0} = {estimate.jobs} jobs
          </strong>
          <span>
            {' '}
            · about {formatDuration(estimate.seconds)} <span class="muted">({estimate.basis})</span>
          </span>
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={sending}>
            {sending ? 'Launching…' : `Launch ${estimate.jobs} jobs`}
          </button>
        </div>
      </form>
    </section>
  );
}
