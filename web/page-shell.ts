import { CLIENT_STYLE } from './client-style.ts';

/** The HTML page: an empty body the bundled script fills; the token and mode ride in data attributes (the token is hex). */
export function pageShell(token: string, readOnly: boolean, user: string): string {
  const attr = (text: string): string => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MatterStack</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${CLIENT_STYLE}</style></head>
<body data-token="${attr(token)}" data-read-only="${readOnly}" data-user="${attr(user)}"><div id="app">loading…</div>
<script type="module" src="/app.js"></script></body></html>`;
}
