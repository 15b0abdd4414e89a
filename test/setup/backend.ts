// Every test file runs on the wasm backend unless GRADHOOKS_BACKEND names another one.
import '@tensorflow/tfjs';

import { selectBackend } from '@gradhooks/core/node';

await selectBackend({ force: (process.env['GRADHOOKS_BACKEND'] as 'wasm' | 'cpu' | undefined) ?? 'wasm' });
