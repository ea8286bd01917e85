/** `npm run bench`: runs the scenarios and prints one table, also kept as results/latest.json. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runExecLatency } from './exec-latency.ts';
import { runFanout } from './fanout.ts';
import { runIdleAgents } from './idle-agents.ts';
import { runPlayback } from './playback.ts';
import { runTerminal } from './terminal.ts';
import { runRepository } from './repository.ts';
import { runFiles } from './files.ts';
import {
  agentRuntime,
  cleanupSync,
  keepTempFolders,
  progress,
  REPO_ROOT,
  stopAllChildren,
  type Row,
  type ScenarioResult,
} from './lib.ts';

/** The whole run must end by itself well inside ten minutes; past this it gives up and cleans. */
const BENCH_DEADLINE_MS = 9 * 60_000;
const RESULTS_FILE = join(REPO_ROOT, 'bench/results/latest.json');
const EXIT_FAILED = 1;
const EXIT_USAGE = 64;
const FAILED_ROW: Row = {
  measure: '',
  tether: 'failed',
  baseline: '',
  diff: '',
  target: '',
  met: false,
};

const SCENARIOS: Record<string, () => Promise<ScenarioResult>> = {
  'exec-latency': runExecLatency,
  fanout: runFanout,
  'idle-agents': runIdleAgents,
  terminal: runTerminal,
  playback: runPlayback,
  repository: runRepository,
  files: runFiles,
};

const HELP = `npm run bench [-- --only NAME] [--keep-temp]

Scenarios: ${Object.keys(SCENARIOS).join(', ')}. Progress goes to stderr, the table to stdout,
and the same table as JSON to bench/results/latest.json. --keep-temp leaves the temp folder
(data folders and every process's log) in place for a look after a failure.
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      'keep-temp': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values['keep-temp']) keepTempFolders();
  const names = values.only ? [values.only] : Object.keys(SCENARIOS);
  const unknown = names.find((name) => !(name in SCENARIOS));
  if (unknown) {
    process.stderr.write(`bench: no scenario "${unknown}"\n\n${HELP}`);
    return EXIT_USAGE;
  }

  const startedAt = new Date();
  const startLoad = loadavg();
  progress('bench', `agents run as ${agentRuntime}; scenarios: ${names.join(', ')}`);
  const rows: Row[] = [];
  const notes: string[] = [];
  const details: Record<string, unknown> = {};
  let failed = false;
  for (const [index, name] of names.entries()) {
    progress('bench', `scenario ${index + 1}/${names.length}: ${name}`);
    try {
      const result = await SCENARIOS[name]();
      rows.push(...result.rows);
      notes.push(...result.notes);
      details[name] = result.details;
    } catch (error) {
      failed = true;
      const message = error instanceof Error ? error.message : String(error);
      progress(name, `FAILED: ${message}`);
      rows.push({ ...FAILED_ROW, measure: name });
      notes.push(`${name} failed: ${message}`);
      details[name] = { error: error instanceof Error ? (error.stack ?? message) : message };
    } finally {
      // Anything a failed scenario left running stops here, each by its pid.
      await stopAllChildren();
    }
  }

  process.stdout.write(`${formatTable(rows)}\n`);
  const load = startLoad.map((l) => l.toFixed(2)).join(' ');
  process.stdout.write(
    `\n${cpus().length} cores, Node ${process.version}, agents as ` +
      `${agentRuntime}, load average at start ${load}\n`,
  );
  if (notes.length > 0) process.stdout.write(`\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
  mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      node: process.version,
      loadAtStart: startLoad,
      loadAtEnd: loadavg(),
    },
    agentRuntime,
    rows,
    notes,
    details,
  };
  writeFileSync(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
  progress('bench', `wrote ${RESULTS_FILE}`);
  return failed ? EXIT_FAILED : 0;
}

function formatTable(rows: Row[]): string {
  const header = ['measure', 'tether', 'baseline', 'ratio/diff', 'target', 'met?'];
  const cells = rows.map((r) => [
    r.measure,
    r.tether,
    r.baseline,
    r.diff,
    r.target,
    r.met === null ? '—' : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => c.map((cell, i) => cell.padEnd(widths[i])).join(' | ');
  const rule = widths.map((w) => '-'.repeat(w)).join('-|-');
  return [line(header), rule, ...cells.map(line)].join('\n');
}

const deadline = setTimeout(() => {
  process.stderr.write(`bench: gave up after ${BENCH_DEADLINE_MS / 1000} s; cleaning up\n`);
  cleanupSync();
  process.exit(EXIT_FAILED);
}, BENCH_DEADLINE_MS);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}; cleaning up\n`);
    cleanupSync();
    process.exit(EXIT_FAILED);
  });
}
process.once('exit', cleanupSync);

try {
  process.exitCode = await main();
} finally {
  clearTimeout(deadline);
  await stopAllChildren();
  cleanupSync();
}
