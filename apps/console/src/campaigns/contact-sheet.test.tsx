import { render, screen } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { campaignJob } from '../fixtures';
import { ContactSheet } from './contact-sheet';
import { buildSheet } from './sheet-model';

describe('<ContactSheet>', () => {
  const jobs = [
    campaignJob({
      job_id: 'job_done',
      status: 'completed',
      result_url: 'http://api.test/results/v1/job_done.png?expires=1&sig=s',
      queue_position: null,
      profile_name: '<img src=x onerror=alert(1)>',
    }),
    campaignJob({
      job_id: 'job_wait',
      variant: 1,
      queue_position: 4,
      profile_name: '<img src=x onerror=alert(1)>',
    }),
    campaignJob({
      job_id: 'job_fail',
      status: 'failed',
      profile_index: 1,
      profile_name: 'Lene',
      queue_position: null,
      failure_reason_code: 'MODEL_ERROR',
      error: 'the backend answered 500',
    }),
    campaignJob({
      job_id: 'job_run',
      status: 'processing',
      progress: 40,
      profile_index: 1,
      profile_name: 'Lene',
      variant: 1,
      queue_position: null,
    }),
  ];

  it('shows the image when done, the status and queue position before, and the failure reason in a red cell', () => {
    render(<ContactSheet sheet={buildSheet(jobs)} variants={2} />);
    const done = screen.getByRole('img', { name: '<img src=x onerror=alert(1)> — Rooftop, variant 1' });
    expect(done.getAttribute('src')).toBe('http://api.test/results/v1/job_done.png?expires=1&sig=s');
    expect(screen.getByRole('link', { name: /variant 2: Queued · 4 ahead$/ }).textContent).toBe(
      'Queued · 4 ahead',
    );
    const failed = screen.getByRole('link', { name: 'Lene — Rooftop, variant 1: Failed · MODEL_ERROR' });
    expect(failed.className).toContain('tile-failed');
    expect(failed.textContent).toContain('the backend answered 500');
    expect(screen.getByRole('link', { name: /Lene — Rooftop, variant 2: Processing · 40 %/ })).toBeTruthy();
    // Every tile opens the job inspector.
    expect(failed.getAttribute('href')).toBe('/console/jobs/job_fail');
  });

  it('renders what a tenant typed as text, never as markup', () => {
    const { container } = render(<ContactSheet sheet={buildSheet(jobs)} variants={2} />);
    expect(screen.getByRole('rowheader', { name: '<img src=x onerror=alert(1)>' })).toBeTruthy();
    // The only img is the result thumbnail; the name did not become an element.
    expect(container.querySelectorAll('img')).toHaveLength(1);
    expect(container.querySelector('img[src="x"]')).toBeNull();
  });
});
