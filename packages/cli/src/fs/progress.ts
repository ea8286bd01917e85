/** A progress bar on stderr for long transfers, shown only when stderr is a terminal. */
import cliProgress from 'cli-progress';

export interface Progress {
  add(bytes: number): void;
  done(): void;
}

const QUIET: Progress = { add: () => {}, done: () => {} };

/** `label` names what moves; `total` is its size in bytes when known (else the bar counts). */
export function progressBar(label: string, total: number | null, start = 0): Progress {
  if (!process.stderr.isTTY) return QUIET;
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.slice(0, 40)} [{bar}] {percentage}% {done}/{size} {speed}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  const size = total ?? 0;
  const startedAt = Date.now();
  let value = start;
  const payload = () => ({
    done: bytes(value),
    size: total === null ? '?' : bytes(size),
    speed: `${bytes((value - start) / Math.max(0.001, (Date.now() - startedAt) / 1000))}/s`,
  });
  bar.start(Math.max(size, 1), start, payload());
  return {
    add(count) {
      value += count;
      if (total === null) bar.setTotal(Math.max(1, value));
      bar.update(value, payload());
    },
    done() {
      bar.update(total ?? value, payload());
      bar.stop();
    },
  };
}

export function bytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
