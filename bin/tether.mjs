#!/usr/bin/env node
// The `tether` command: loads the CLI's TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../packages/cli/src/main.ts');
await main(process.argv.slice(2));
