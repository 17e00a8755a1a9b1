import { ApiError, type Profile } from '@castforge/client';
import { useState } from 'preact/hooks';
import { useClient } from '../session';
import { messageOf } from '../ui/async';
import { Alert, Field } from '../ui/field';
import {
  type FieldKey,
  type FormValues,
  FormError,
  createBody,
  emptyForm,
  errorsByField,
  formFromProfile,
  patchBody,
} from './profile-form-model';

type Errors = Partial<Record<FieldKey, string>>;

/**
 * Create a profile, or edit one (a PATCH of what changed, guarded by If-Match so a concurrent edit is not
 * overwritten). The API validates; its 422 messages are shown next to the fields their `loc` names.
 */
export function ProfileForm(props: {
  profile?: Profile;
  onSaved: (profile: Profile) => void;
  onCancel?: () => void;
}) {
  const client = useClient();
  const initial = props.profile ? formFromProfile(props.profile) : emptyForm();
  const [values, setValues] = useState<FormValues>(initial);
  const [errors, setErrors] = useState<Errors>({});
  const [formErrors, setFormErrors] = useState<string[]>([]);
  const [saving, setSaving] = useState(false);
  const set = (key: FieldKey) => (e: { currentTarget: { value: string } }) => {
    const value = e.currentTarget.value;
    setValues((v) => ({ ...v, [key]: value }));
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setSaving(true);
    setErrors({});
    setFormErrors([]);
    try {
      const saved = props.profile
        ? await client.profiles.update(props.profile.profile_id, patchBody(initial, values), {
            ifMatch: props.profile.version,
          })
        : await client.profiles.create(createBody(values));
      props.onSaved(saved);
    } catch (err) {
      if (err instanceof FormError) setErrors({ [err.field]: err.message });
      else if (err instanceof ApiError && err.body?.detail?.length) {
        const mapped = errorsByField(err.body.detail);
        setErrors(mapped.fields);
        setFormErrors(mapped.form);
        if (!mapped.form.length && !Object.keys(mapped.fields).length) setFormErrors([messageOf(err)]);
      } else if (err instanceof ApiError && err.status === 412) {
        setFormErrors([
          'Someone changed this profile since you opened it. Reload it, then make your change again.',
        ]);
      } else setFormErrors([messageOf(err)]);
    } finally {
      setSaving(false);
    }
  };

  const id = (key: FieldKey) => `profile-${key.replace('.', '-')}`;
  const input = (key: FieldKey, label: string, extra: Record<string, unknown> = {}, hint?: string) => (
    <Field id={id(key)} label={label} error={errors[key]} {...(hint && { hint })}>
      {(aria) => <input {...aria} name={key} value={values[key]} onInput={set(key)} {...extra} />}
    </Field>
  );
  const area = (key: FieldKey, label: string, hint?: string) => (
    <Field id={id(key)} label={label} error={errors[key]} {...(hint && { hint })}>
      {(aria) => <textarea {...aria} name={key} rows={3} value={values[key]} onInput={set(key)} />}
    </Field>
  );
  const select = (key: FieldKey, label: string, options: string[]) => (
    <Field id={id(key)} label={label} error={errors[key]}>
      {(aria) => (
        <select {...aria} name={key} value={values[key]} onChange={set(key)}>
          {options.map((o) => (
            <option key={o} value={o}>
              {o || '(not set)'}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
  const numeric = { inputMode: 'decimal' };

  return (
    <form
      class="profile-form"
      onSubmit={(e) => void submit(e)}
      noValidate
      aria-label={props.profile ? 'Edit profile' : 'New profile'}
    >
      {formErrors.length > 0 && <Alert message={formErrors.join(' · ')} />}
      {Object.keys(errors).length > 0 && !formErrors.length && (
        <Alert message="The API refused some fields; each one says why below." />
      )}
      <fieldset>
        <legend>Identity</legend>
        {input('name', 'Name', { required: true, autoComplete: 'off' })}
        {area('description', 'Description')}
        {input('tags', 'Tags', {}, 'Comma-separated, e.g. casting, spring')}
        {area(
          'prompt_template',
          'Identity prompt',
          'Joined with each scene prompt; {{ user_prompt }} places the scene inside it',
        )}
        {select('prompt_template_mode', 'Join mode', ['suffix', 'prefix', 'replace'])}
        {area('negative_prompt', 'Negative prompt')}
      </fieldset>
      <fieldset>
        <legend>Generation defaults</legend>
        <div class="grid-fields">
          {input('steps', 'Steps', numeric)}
          {input('cfg_scale', 'CFG scale', numeric)}
          {input('width', 'Width', numeric)}
          {input('height', 'Height', numeric)}
          {select('output_format', 'Output format', ['', 'png', 'jpeg', 'webp'])}
          {select('seed_strategy', 'Seed strategy', ['random', 'fixed', 'user'])}
          {input('fixed_seed', 'Fixed seed', numeric)}
        </div>
      </fieldset>
      <fieldset>
        <legend>Adapter</legend>
        <div class="grid-fields">
          {input('adapter.model', 'Model')}
          {select('adapter.identity_adapter', 'Identity adapter', [
            '',
            'instantid',
            'pulid',
            'ip_adapter_faceid',
          ])}
          {input('adapter.identity_strength', 'Identity strength', numeric)}
        </div>
        {area('adapter.loras', 'LoRAs', 'One per line as name:weight')}
        {area('adapter.extra', 'Extra (JSON)', 'Passed to the backend as is')}
      </fieldset>
      <fieldset>
        <legend>Storage pointer</legend>
        <p class="hint">Where your own bucket is. Never put a key or secret here: the API refuses them.</p>
        <div class="grid-fields">
          {select('storage.provider', 'Provider', ['', 's3', 'gcs', 'azure', 'r2'])}
          {input('storage.bucket', 'Bucket')}
          {input('storage.prefix', 'Prefix')}
          {input('storage.region', 'Region')}
          {input('storage.endpoint', 'Endpoint')}
        </div>
      </fieldset>
      <div class="actions">
        <button type="submit" class="primary" disabled={saving}>
          {saving ? 'Saving…' : props.profile ? 'Save changes' : 'Create profile'}
        </button>
        {props.onCancel && (
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
