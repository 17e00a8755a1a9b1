import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { beforeEach, describe, expect, it } from 'vitest';
import { App } from './app';
import { json, scriptedClient, when } from './test-fetch';

const GOOD_KEY = 'cfk_demo_good';

describe('<App> signing in', () => {
  beforeEach(() => window.history.replaceState(null, '', '/console/campaigns'));

  const app = () => {
    const profiles = when('GET', '/profiles/v1', () =>
      json(200, { profiles: [], next_cursor: null, total: 0 }),
    );
    const campaigns = when('GET', '/campaigns/v1', () => json(200, { campaigns: [], next_cursor: null }));
    return render(
      <App
        makeClient={(key) =>
          scriptedClient(
            [
              (request) =>
                request.headers.get('X-API-Key') === GOOD_KEY
                  ? undefined
                  : json(401, {
                      error_code: 'UNAUTHORIZED',
                      message: 'unknown key',
                      detail: [],
                      request_id: 'r',
                    }),
              profiles,
              campaigns,
            ],
            key,
          ).client
        }
      />,
    );
  };

  it('refuses a wrong key with a clear message and keeps nothing', async () => {
    app();
    fireEvent.input(screen.getByLabelText('API key'), { target: { value: 'nope' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toBe('This API key was not accepted.'));
    expect(sessionStorage.length).toBe(0);
  });

  it('keeps a good key in this tab’s session storage only, and forgets it on sign-out', async () => {
    app();
    const input = screen.getByLabelText('API key');
    expect(input.getAttribute('type')).toBe('password');
    fireEvent.input(input, { target: { value: ` ${GOOD_KEY} ` } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await screen.findByRole('heading', { level: 1, name: 'Campaigns' });
    expect(sessionStorage.getItem('castforge.apiKey')).toBe(GOOD_KEY);
    expect(document.cookie).toBe('');
    expect(window.location.href).not.toContain(GOOD_KEY);
    await screen.findByText(/No campaigns yet/);

    fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    await screen.findByLabelText('API key');
    expect(sessionStorage.getItem('castforge.apiKey')).toBeNull();
  });
});
