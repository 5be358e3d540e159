// A JSON value as a foldable tree (every string shown as text, never as markup).
import { html } from 'htm/preact';

/** One value: objects and arrays fold (open to `openDepth`), scalars print as JSON. */
export function JsonTree({ value, name, depth = 0, openDepth = 2 }: { value: unknown; name?: string; depth?: number; openDepth?: number }) {
  const label = name !== undefined ? html`<span class="json-key">${name}</span>: ` : null;
  if (value === null || typeof value !== 'object') {
    return html`<div class="json-leaf">${label}<span class=${`json-${value === null ? 'null' : typeof value}`}>${JSON.stringify(value)}</span></div>`;
  }
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const brackets = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  return html`<details class="json-node" open=${depth < openDepth}>
    <summary>${label}<span class="json-size">${brackets}</span></summary>
    ${entries.map(([k, v]) => html`<${JsonTree} key=${k} name=${k} value=${v} depth=${depth + 1} openDepth=${openDepth} />`)}
  </details>`;
}
