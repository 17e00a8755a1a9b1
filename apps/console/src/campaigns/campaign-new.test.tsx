import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { LocationProvider } from 'preact-iso';
import { describe, expect, it } from 'vitest';
import { profile } from '../fixtures';
import { ClientContext } from '../session';
import { json, scriptedClient, when } from '../test-fetch';
import { NewCampaignPage } from './campaign-new';

describe('<NewCampaignPage>', () => {
  it('shows the job count and an estimate as the roster, scenes and variants change, and sends one idempotent request', async () => {
    const roster = [profile(), profile({ profile_id: 'prof_0000000000000002', name: 'Lene Voss', tags: [] })];
    const { client, sent } = scriptedClient([
      when('GET', '/profiles/v1', () => json(200, { profiles: roster, next_cursor: null, total: 2 })),
      when('GET', '/campaigns/v1', () => json(200, { campaigns: [], next_cursor: null })),
      when('POST', '/campaigns/v1', () =>
        json(422, {
          error_code: 'INVALID_PARAMETERS',
          message: 'scenes.1.prompt: too long',
          detail: [
            { loc: ['body', 'scenes', 1, 'prompt'], msg: 'must be at most 4000 characters', type: 'too_big' },
          ],
          request_id: 'r',
        }),
      ),
    ]);
    window.history.replaceState(null, '', '/console/campaigns/new');
    render(
      <ClientContext.Provider value={client}>
        <LocationProvider scope="/console">
          <NewCampaignPage />
        </LocationProvider>
      </ClientContext.Provider>,
    );
    const summary = () => screen.getByTestId('campaign-estimate').textContent;
    await screen.findByRole('checkbox', { name: /Lene Voss/ });
    expect(summary()).toContain('0 × 1 × 1 = 0 jobs');

    fireEvent.click(screen.getByRole('button', { name: 'Pick all shown' }));
    fireEvent.click(screen.getByRole('button', { name: 'Add a scene' }));
    fireEvent.input(screen.getByLabelText('Variants per identity × scene'), { target: { value: '2' } });
    fireEvent.input(screen.getByLabelText('Scene 1 steps'), { target: { value: '10' } });
    fireEvent.input(screen.getByLabelText('Scene 2 steps'), { target: { value: '10' } });
    await waitFor(() => expect(summary()).toContain('2 × 2 × 2 = 8 jobs'));
    // No campaign has finished yet: the rough rate, 10 steps × 1.05 megapixels × 8 jobs.
    expect(summary()).toContain('about 1 min 24 s');
    expect(summary()).toContain('rough');

    fireEvent.input(screen.getByLabelText('Campaign name'), { target: { value: 'Spring' } });
    fireEvent.input(screen.getByLabelText('Scene 2 prompt'), { target: { value: 'x'.repeat(5000) } });
    fireEvent.click(screen.getByRole('button', { name: 'Launch 8 jobs' }));
    const prompt2 = screen.getByLabelText('Scene 2 prompt');
    await waitFor(() => expect(prompt2.getAttribute('aria-invalid')).toBe('true'));
    expect(document.getElementById(prompt2.getAttribute('aria-describedby')!)!.textContent).toBe(
      'must be at most 4000 characters',
    );

    fireEvent.click(screen.getByRole('button', { name: 'Launch 8 jobs' }));
    await waitFor(() => expect(sent.filter((r) => r.method === 'POST')).toHaveLength(2));
    const posts = sent.filter((r) => r.method === 'POST');
    expect(posts[0]!.headers.get('Idempotency-Key')).toMatch(/^console-[0-9a-f]{24}$/);
    expect(posts[1]!.headers.get('Idempotency-Key')).toBe(posts[0]!.headers.get('Idempotency-Key'));
    expect(await posts[0]!.json()).toMatchObject({
      name: 'Spring',
      profile_ids: ['prof_0000000000000001', 'prof_0000000000000002'],
      variants: 2,
      scenes: [{ num_inference_steps: 10 }, { num_inference_steps: 10, prompt: 'x'.repeat(5000) }],
    });
  });
});
