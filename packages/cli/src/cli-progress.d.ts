/** The part of cli-progress 3 the CLI uses; the package ships no types of its own. */
declare module 'cli-progress' {
  interface Options {
    format?: string;
    stream?: NodeJS.WritableStream;
  }
  class SingleBar {
    constructor(options: Options, preset?: object);
    start(total: number, value: number): void;
    update(value: number): void;
    stop(): void;
  }
  const Presets: { shades_classic: object };
  const cliProgress: { SingleBar: typeof SingleBar; Presets: typeof Presets };
  export default cliProgress;
}
