export * from './api';
export * from './services';
export * from './http';
export * from './own-mongo';
export * from './worker';
export * from './wait';
export * from './jobs';
