export { type CastforgeClient, type ClientOptions, GENERATE_ENDPOINT, createCastforgeClient } from './client';
export { ApiError, retryAfterSeconds } from './errors';
export { type RetryOptions, retryingFetch } from './retry-fetch';
export { type PollOptions, allCampaignJobs, campaignJobs, waitForCampaign, waitForJob } from './wait';
export * from './types';
