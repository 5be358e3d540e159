// Text a user or a campaign supplied (`--by`, comments, reasons, gate messages, campaign state) can
// hold a newline or an ANSI escape: printed raw it would fake a line or rewrite the terminal.

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

// C0, DEL, C1 (ESC and CSI start every ANSI sequence), Unicode line/paragraph separators and the
// bidirectional overrides that reorder what a terminal shows.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every control character shown as an escape (`\n`, `\u001b`) instead of acting on the terminal. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Human output built line by line: each line escaped, joined with newlines, ending with one. */
export function textBlock(lines: readonly string[]): string {
  return `${lines.map(escapeControl).join('\n')}\n`;
}
