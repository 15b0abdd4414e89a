export { createJsonlSink } from './jsonlSink.js';
export type { JsonlSink } from './jsonlSink.js';
export { BACKEND_ENVIRONMENT_VARIABLE, backendCandidates, selectBackend } from './selectBackend.js';
export type { BackendCandidate, BackendSelection } from './selectBackend.js';
