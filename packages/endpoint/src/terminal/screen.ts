/** A server-side headless terminal per session: late joiners and lagging viewers get its screen. */
import xtermHeadless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';

const { Terminal } = xtermHeadless;
const { SerializeAddon } = serializeAddon;
/** Lines of history kept for a late joiner: enough context, bounded memory (~1 MB per session). */
export const SCROLLBACK_LINES = 1_000;
/** xterm's parser state between escape sequences (its ParserState.GROUND). */
const PARSER_GROUND = 0;

/**
 * The parts of xterm's private state that say whether plain text may be skipped. They are not
 * public API: when a new xterm version moves them, `canSkipPlainText` answers false and every
 * byte is parsed again (slower, never wrong); screen-feed.test.ts notices.
 */
interface XtermInternals {
  _core?: {
    _inputHandler?: {
      _parser?: { currentState?: number };
      _utf8Decoder?: { interim?: Uint8Array };
    };
    buffer?: { scrollTop?: number; scrollBottom?: number };
  };
}

export class Screen {
  private readonly terminal: InstanceType<typeof Terminal>;
  private readonly serializer = new SerializeAddon();

  constructor(cols: number, rows: number) {
    this.terminal = new Terminal({
      cols,
      rows,
      scrollback: SCROLLBACK_LINES,
      allowProposedApi: true,
      // xterm would print parse errors of arbitrary program output to the console.
      logLevel: 'off',
    });
    this.terminal.loadAddon(this.serializer);
  }

  get cols(): number {
    return this.terminal.cols;
  }

  get rows(): number {
    return this.terminal.rows;
  }

  /** `parsed` runs once xterm has parsed these bytes. */
  write(bytes: Uint8Array, parsed?: () => void): void {
    this.terminal.write(bytes, parsed);
  }

  resize(cols: number, rows: number): void {
    this.terminal.resize(cols, rows);
  }

  /**
   * The screen as escape sequences that redraw it, after every byte written so far (xterm
   * parses in slices, so this waits for the writes queued before the call). `scrollback:
   * false` leaves out the history: a tenth of a millisecond instead of about 15.
   */
  snapshot(options: { scrollback: boolean } = { scrollback: true }): Promise<string> {
    return new Promise((resolve) => {
      this.terminal.write(new Uint8Array(0), () =>
        resolve(this.serializer.serialize(options.scrollback ? {} : { scrollback: 0 })),
      );
    });
  }

  /**
   * Whether plain text written next may be skipped by the rules in plain-text.ts: the parser is
   * between sequences with no UTF-8 character half read, and the scroll region is the whole
   * screen. Only meaningful once every earlier write has been parsed.
   */
  canSkipPlainText(): boolean {
    const core = (this.terminal as unknown as XtermInternals)._core;
    const parser = core?._inputHandler?._parser?.currentState;
    const interim = core?._inputHandler?._utf8Decoder?.interim;
    const buffer = core?.buffer;
    return (
      parser === PARSER_GROUND &&
      interim !== undefined &&
      interim[0] === 0 &&
      buffer?.scrollTop === 0 &&
      buffer.scrollBottom === this.terminal.rows - 1
    );
  }

  dispose(): void {
    // Disposing while xterm still has queued writes makes its pending callbacks throw later.
    this.terminal.write(new Uint8Array(0), () => this.terminal.dispose());
  }
}
