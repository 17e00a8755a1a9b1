import { AppError, type ProfileRepository, parseInput } from '@castforge/core';
import {
  ProfileCreate,
  ProfileId,
  ProfileListQuery,
  ProfilePatch,
  ProfileVersionParams,
  type Profile,
} from '@castforge/schemas';
import { type Request, type RequestHandler, type Response, Router } from 'express';
import { pathIdFrom, requireTenant } from '../http/request-context';

/** `If-Match: "3"` (or `3`, `W/"3"`) names a version; `*` matches any. Anything else can never match. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  if (!match?.[1])
    throw new AppError('PRECONDITION_FAILED', `If-Match ${JSON.stringify(header)} names no version`);
  return Number(match[1]);
}

const profileIdFrom = (req: Request) => pathIdFrom(req, 'profile_id', ProfileId, 'profile');

const sendProfile = (res: Response, status: number, profile: Profile) =>
  res.status(status).set('ETag', `"${profile.version}"`).json(profile);

export function profilesRouter(profiles: ProfileRepository, auth: RequestHandler): Router {
  const router = Router();

  router.post('/', auth, async (req, res) => {
    const input = parseInput(ProfileCreate, req.body, 'body');
    const profile = await profiles.create(requireTenant(req), input);
    res.location(`${req.baseUrl}/${profile.profile_id}`);
    sendProfile(res, 201, profile);
  });

  router.get('/', auth, async (req, res) => {
    const query = parseInput(ProfileListQuery, req.query, 'query');
    res.json(await profiles.list(requireTenant(req), query));
  });

  router.get('/:profile_id', auth, async (req, res) => {
    sendProfile(res, 200, await profiles.get(requireTenant(req), profileIdFrom(req)));
  });

  router.patch('/:profile_id', auth, async (req, res) => {
    const id = profileIdFrom(req);
    const ifMatch = parseIfMatch(req.get('if-match'));
    const patch = parseInput(ProfilePatch, req.body, 'body');
    sendProfile(res, 200, await profiles.patch(requireTenant(req), id, patch, ifMatch));
  });

  router.delete('/:profile_id', auth, async (req, res) => {
    const id = profileIdFrom(req);
    await profiles.remove(requireTenant(req), id, parseIfMatch(req.get('if-match')));
    res.status(204).end();
  });

  router.get('/:profile_id/versions/:version', auth, async (req, res) => {
    const id = profileIdFrom(req);
    const params = ProfileVersionParams.safeParse(req.params);
    if (!params.success)
      throw new AppError('NOT_FOUND', `profile ${id} has no version ${String(req.params.version)}`);
    sendProfile(res, 200, await profiles.getVersion(requireTenant(req), id, params.data.version));
  });

  return router;
}
