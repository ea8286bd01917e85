// Starts a terminal worker thread. On Node 20 a worker does not inherit the main thread's tsx
// loader, so it registers its own before loading the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./terminal-worker.ts');
