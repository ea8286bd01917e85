/** The agent executable's entry: `--self-test` is answered here, everything else by agentMain. */
import { agentMain } from './main.ts';
import { runSelfTest } from './native-addons.ts';

/** sysexits(3) EX_SOFTWARE: a bug, not a usage or enrollment problem. */
const EXIT_INTERNAL = 70;

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--self-test')) return selfTest();
  return agentMain(argv);
}

async function selfTest(): Promise<number> {
  const checks = await runSelfTest();
  for (const check of checks) {
    process.stdout.write(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}\n`);
  }
  return checks.every((check) => check.ok) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`tether-agent: internal error: ${text}\n`);
    process.exit(EXIT_INTERNAL);
  },
);
