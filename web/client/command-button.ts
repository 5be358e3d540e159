// A button that sends one command and shows what came back (a rejection with its reason).
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { READ_ONLY, sendCommand, type CommandReply } from './api.ts';

/** The reply of the last command, as a line under the buttons. */
export function ReplyLine({ reply }: { reply: CommandReply | null }) {
  if (reply === null) return null;
  return reply.accepted
    ? html`<div class="reply ok">accepted (seq ${reply.seq})</div>`
    : html`<div class="reply refused" role="alert">refused [${reply.code}]: ${reply.message}</div>`;
}

/** Sends `command` to `runId` on click; nothing at all on a read-only page. */
export function CommandButton({ runId, label, command, confirmText }: { runId: string; label: string; command: Record<string, unknown>; confirmText?: string }) {
  const [reply, setReply] = useState<CommandReply | null>(null);
  const [busy, setBusy] = useState(false);
  if (READ_ONLY) return null;
  const click = async (): Promise<void> => {
    if (confirmText !== undefined && !window.confirm(confirmText)) return;
    setBusy(true);
    try {
      setReply(await sendCommand(runId, command));
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="command"><button class="action" data-action=${String(command.type)} disabled=${busy} onClick=${click}>${label}</button><${ReplyLine} reply=${reply} /></span>`;
}
