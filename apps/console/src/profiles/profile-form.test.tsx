import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { describe, expect, it, vi } from 'vitest';
import { profile } from '../fixtures';
import { ClientContext } from '../session';
import { json, scriptedClient, when } from '../test-fetch';
import { ProfileForm } from './profile-form';

const invalid = (detail: { loc: (string | number)[]; msg: string; type: string }[]) =>
  json(422, { error_code: 'INVALID_PARAMETERS', message: detail[0]!.msg, detail, request_id: 'r1' });

describe('<ProfileForm>', () => {
  it('shows each of the API’s 422 messages under the field its loc names, tied to it for screen readers', async () => {
    const { client, sent } = scriptedClient([
      when('POST', '/profiles/v1', () =>
        invalid([
          { loc: ['body', 'width'], msg: 'must be a multiple of 8', type: 'multiple_of' },
          { loc: ['body', 'fixed_seed'], msg: 'is required when seed_strategy is fixed', type: 'missing' },
        ]),
      ),
    ]);
    const onSaved = vi.fn();
    render(
      <ClientContext.Provider value={client}>
        <ProfileForm onSaved={onSaved} />
      </ClientContext.Provider>,
    );
    fireEvent.input(screen.getByLabelText('Name'), { target: { value: 'Mara' } });
    fireEvent.input(screen.getByLabelText('Width'), { target: { value: '65' } });
    fireEvent.change(screen.getByLabelText('Seed strategy'), { target: { value: 'fixed' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create profile' }));

    const width = screen.getByLabelText('Width');
    await waitFor(() => expect(width.getAttribute('aria-invalid')).toBe('true'));
    const describedBy = width.getAttribute('aria-describedby')!;
    expect(document.getElementById(describedBy)!.textContent).toBe('must be a multiple of 8');
    const seed = screen.getByLabelText('Fixed seed');
    expect(document.getElementById(seed.getAttribute('aria-describedby')!)!.textContent).toBe(
      'is required when seed_strategy is fixed',
    );
    expect(screen.getByLabelText('Name').getAttribute('aria-invalid')).toBe('false');
    expect(screen.getByRole('alert').textContent).toContain('refused some fields');
    expect(onSaved).not.toHaveBeenCalled();
    expect(await sent[0]!.json()).toEqual({
      name: 'Mara',
      width: 65,
      prompt_template_mode: 'suffix',
      seed_strategy: 'fixed',
    });
  });

  it('saves an edit as a PATCH of what changed with If-Match, and says so when someone else changed it first', async () => {
    const saved = profile({ version: 3, description: 'old' });
    const { client, sent } = scriptedClient([
      when('PATCH', `/profiles/v1/${saved.profile_id}`, () =>
        json(412, {
          error_code: 'PRECONDITION_FAILED',
          message: 'version is 4',
          detail: [],
          request_id: 'r2',
        }),
      ),
    ]);
    render(
      <ClientContext.Provider value={client}>
        <ProfileForm profile={saved} onSaved={() => undefined} />
      </ClientContext.Provider>,
    );
    fireEvent.input(screen.getByLabelText('Description'), { target: { value: 'new' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    await waitFor(() =>
      expect(screen.getByRole('alert').textContent).toContain('Someone changed this profile'),
    );
    expect(sent[0]!.headers.get('If-Match')).toBe('"3"');
    expect(await sent[0]!.json()).toEqual({ description: 'new' });
  });
});
