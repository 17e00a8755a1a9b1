import { ApiError, type CastforgeClient } from '@castforge/client';
import { useState } from 'preact/hooks';
import { messageOf } from './ui/async';
import { Alert, Field } from './ui/field';

/** Asks for the API key once per tab, checks it against the API, then hands it up. */
export function SignIn(props: {
  makeClient: (key: string) => CastforgeClient;
  onSignedIn: (key: string) => void;
}) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) {
      setError('Enter an API key.');
      return;
    }
    setChecking(true);
    setError(null);
    try {
      await props.makeClient(trimmed).profiles.list({ limit: 1 });
      props.onSignedIn(trimmed);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401 ? 'This API key was not accepted.' : messageOf(err),
      );
    } finally {
      setChecking(false);
    }
  };

  return (
    <main class="sign-in">
      <h1>castforge console</h1>
      <form onSubmit={(e) => void submit(e)} aria-label="Sign in">
        <Alert message={error} />
        <Field
          id="api-key"
          label="API key"
          hint="Kept in this tab only (session storage) until you sign out or close it. `npm start` prints the demo key."
        >
          {(aria) => (
            <input
              {...aria}
              type="password"
              autoComplete="off"
              spellcheck={false}
              value={key}
              onInput={(e) => setKey(e.currentTarget.value)}
            />
          )}
        </Field>
        <button type="submit" class="primary" disabled={checking}>
          {checking ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
