#!/usr/bin/env node
// The gradhooks command. tsx runs the TypeScript sources directly, and lets
// config files name plugin files written in TypeScript.
import { register } from 'tsx/esm/api';

register();
// A reader that stops early (`gradhooks schema | head`) closes the pipe; that is not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') {
    process.exit(0);
  }
  throw error;
});
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
