#!/usr/bin/env node
// The gradhooks command. tsx runs the TypeScript sources directly, and lets
// config files name plugin files written in TypeScript.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
