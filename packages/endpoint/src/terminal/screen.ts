/** A server-side headless terminal per session: late joiners and lagging viewers get its screen. */
import xtermHeadless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';

const { Terminal } = xtermHeadless;
const { SerializeAddon } = serializeAddon;
/** Lines of history kept for a late joiner: enough context, bounded memory (~1 MB per session). */
const SCROLLBACK_LINES = 1_000;

export class Screen {
  private readonly terminal: InstanceType<typeof Terminal>;
  private readonly serializer = new SerializeAddon();

  constructor(cols: number, rows: number) {
    this.terminal = new Terminal({
      cols,
      rows,
      scrollback: SCROLLBACK_LINES,
      allowProposedApi: true,
    });
    this.terminal.loadAddon(this.serializer);
  }

  /** `parsed` runs once xterm has parsed these bytes: the caller's measure of the backlog. */
  write(bytes: Uint8Array, parsed?: () => void): void {
    this.terminal.write(bytes, parsed);
  }

  resize(cols: number, rows: number): void {
    this.terminal.resize(cols, rows);
  }

  /**
   * The screen after every byte written so far, as escape sequences that redraw it. xterm
   * parses in slices, so this waits for the writes queued before the call; bytes written
   * after the call are not in it, and the caller delivers those itself.
   */
  snapshot(): Promise<string> {
    return new Promise((resolve) => {
      this.terminal.write(new Uint8Array(0), () => resolve(this.serializer.serialize()));
    });
  }

  dispose(): void {
    // Disposing while xterm still has queued writes makes its pending callbacks throw later.
    this.terminal.write(new Uint8Array(0), () => this.terminal.dispose());
  }
}
