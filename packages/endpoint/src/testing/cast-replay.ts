/** Test helper: the screen a recording shows at a given moment, from a headless xterm. */
import xtermHeadless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';

const { Terminal } = xtermHeadless;
const { SerializeAddon } = serializeAddon;

export type CastEvent = [time: number, kind: string, data: string];

export interface ScreenState {
  /** The visible rows, as text. */
  lines: string[];
  cursor: [x: number, y: number];
  /** The visible rows with colours, attributes, modes and the cursor, as escape sequences. */
  serialized: string;
}

/** An asciicast v2 file's size and events; lines that are not events are left out. */
export function castEvents(text: string): { cols: number; rows: number; events: CastEvent[] } {
  const [head, ...lines] = text.split('\n');
  const header = JSON.parse(head) as { width: number; height: number };
  const events: CastEvent[] = [];
  for (const line of lines) {
    if (!line.startsWith('[')) continue;
    try {
      events.push(JSON.parse(line) as CastEvent);
    } catch {
      // A line cut short: the recording plays up to it.
    }
  }
  return { cols: header.width, rows: header.height, events };
}

/** The screen after `init`, then every output and resize at or before `atMs`. */
export async function screenAt(
  start: { cols: number; rows: number; init: string },
  events: CastEvent[],
  atMs: number,
): Promise<ScreenState> {
  const replay = new Replay(start, events);
  try {
    return await replay.at(atMs);
  } finally {
    replay.dispose();
  }
}

/** One recording played forward once, read at moments that only move on. */
export class Replay {
  private readonly terminal: InstanceType<typeof Terminal>;
  private readonly serializer = new SerializeAddon();
  private next = 0;

  constructor(
    start: { cols: number; rows: number; init: string },
    private readonly events: CastEvent[],
  ) {
    this.terminal = new Terminal({
      cols: start.cols,
      rows: start.rows,
      scrollback: 1000,
      allowProposedApi: true,
    });
    this.terminal.loadAddon(this.serializer);
    this.terminal.write(start.init);
  }

  /** The screen once every event at or before `atMs` has played. */
  async at(atMs: number): Promise<ScreenState> {
    const { terminal } = this;
    for (; this.next < this.events.length; this.next++) {
      const [time, kind, data] = this.events[this.next];
      if (Math.round(time * 1000) > atMs) break;
      if (kind === 'o') terminal.write(data);
      if (kind === 'r') {
        // A resize applies at once; the output before it must be parsed at the old size.
        await parsed(terminal);
        const [cols, rows] = data.split('x').map(Number);
        terminal.resize(cols, rows);
      }
    }
    await parsed(terminal);
    const buffer = terminal.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < terminal.rows; y++)
      lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
    return {
      lines,
      cursor: [buffer.cursorX, buffer.cursorY],
      serialized: this.serializer.serialize({ scrollback: 0 }),
    };
  }

  dispose(): void {
    this.terminal.dispose();
  }
}

function parsed(terminal: InstanceType<typeof Terminal>): Promise<void> {
  return new Promise((resolve) => terminal.write('', resolve));
}
