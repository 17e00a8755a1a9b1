import { type components, type paths } from './generated/openapi';

export type { components, paths };
type Schemas = components['schemas'];
/** Request bodies are their own components (in their input form: fields with a default are optional). */
type Body<N extends keyof components['requestBodies']> =
  components['requestBodies'][N]['content']['application/json'];

/**
 * Request fields the server fills in with a default. Generators make a field with a `default` required in
 * the request type; callers may leave these out whichever way the document marks them.
 */
type Defaulted =
  | 'seed'
  | 'priority'
  | 'variants'
  | 'operation'
  | 'enhance_prompt'
  | 'override_profile'
  | 'upscale'
  | 'restore_weight'
  | 'gender';
export type WithDefaultsOptional<T> = Omit<T, Defaulted & keyof T> & Partial<Pick<T, Defaulted & keyof T>>;

export type Profile = Schemas['IdentityProfile'];
export type ProfileCreate = Body<'IdentityProfileCreate'>;
export type ProfilePatch = Body<'IdentityProfilePatch'>;
export type ProfileList = Schemas['IdentityProfileList'];
export type AdapterSnapshot = Schemas['AdapterSnapshot'];
export type GenerateImageRequest = WithDefaultsOptional<Body<'GenerateImageRequest'>>;
export type JobQueued = Schemas['JobQueuedResponse'];
export type JobStatus = Schemas['JobStatusResponse'];
export type JobStatusName = JobStatus['status'];
export type CampaignScene = WithDefaultsOptional<Body<'CampaignCreate'>['scenes'][number]>;
export type CampaignCreate = WithDefaultsOptional<Omit<Body<'CampaignCreate'>, 'scenes'>> & {
  scenes: CampaignScene[];
};
export type CampaignQueued = Schemas['CampaignQueuedResponse'];
export type Campaign = Schemas['Campaign'];
export type CampaignJob = Schemas['CampaignJob'];
export type CampaignJobList = Schemas['CampaignJobList'];
export type WebhookDelivery = Schemas['WebhookDelivery'];
export type ErrorResponse = Schemas['ErrorResponse'];
export type ErrorDetail = ErrorResponse['detail'][number];

export const TERMINAL_STATUSES: readonly JobStatusName[] = ['completed', 'failed', 'cancelled'];
export const isTerminal = (status: JobStatusName): boolean => TERMINAL_STATUSES.includes(status);
