import { escapeControl } from '../views/escape-text.ts';

/** Where a command writes: plain lines or JSON on stdout, diagnostics on stderr. */
export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}

  /** A line of human output on stdout; control characters in it (from user or campaign text) are shown escaped. */
  line(text = ''): void {
    this.stdout.write(`${escapeControl(text)}\n`);
  }

  /** A JSON document (pretty when stdout is a terminal, one line otherwise, so `jq` and line readers both work). */
  data(value: unknown): void {
    const pretty = (this.stdout as { isTTY?: boolean }).isTTY === true;
    this.stdout.write(`${JSON.stringify(value, null, pretty ? 2 : undefined)}\n`);
  }

  /** One JSON line (streams: `loop --json`). */
  jsonLine(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** A one-line diagnostic or hint on stderr (never mixed into data on stdout), control characters escaped. */
  note(text: string): void {
    this.stderr.write(`${escapeControl(text)}\n`);
  }

  /** True when stdout is a terminal (live displays). */
  get isTTY(): boolean {
    return (this.stdout as { isTTY?: boolean }).isTTY === true;
  }

  /** The terminal's width in columns, when stdout is a terminal that reports one. */
  get columns(): number | undefined {
    const columns = (this.stdout as { columns?: number }).columns;
    return typeof columns === 'number' && columns > 0 ? columns : undefined;
  }

  /** Raw write to stdout (the live display, help, text blocks already escaped). */
  write(text: string): void {
    this.stdout.write(text);
  }

  /** Raw bytes to stdout (a log), waiting while the reader is slower than us so a big log never piles up in memory. */
  async bytes(data: Uint8Array): Promise<void> {
    if (data.length === 0 || this.stdout.write(data)) return;
    await new Promise<void>((resolve) => this.stdout.once('drain', resolve));
  }
}
