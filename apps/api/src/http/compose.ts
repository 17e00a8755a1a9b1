import { type RequestHandler } from 'express';

/** Runs middleware in order as one handler (auth, then the rate limit), forwarding errors to Express. */
export function compose(...handlers: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    let index = 0;
    const step = (err?: unknown) => {
      if (err) return next(err);
      const handler = handlers[index++];
      if (!handler) return next();
      try {
        Promise.resolve(handler(req, res, step)).catch(next);
      } catch (error) {
        next(error);
      }
    };
    step();
  };
}
