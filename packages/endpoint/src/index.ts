/** The endpoint package: start one in-process, or run `serve` / `demo`. */
export { startEndpoint, type EndpointOptions, type RunningEndpoint } from './server.ts';
export { serve, demo } from './serve.ts';
export { openStore, type Store } from './store/store.ts';
export { serveRepository, startRepositoryServer } from './repository/standalone.ts';
