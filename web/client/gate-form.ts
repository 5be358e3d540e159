// Approve or reject a gate: a comment and data, the data form built from the gate's inputSchema.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { READ_ONLY, sendCommand, type CommandReply } from './api.ts';
import { ReplyLine } from './command-button.ts';
import type { JsonSchema } from './shared.ts';

/** A field's text as the schema's type wants it (numbers and booleans parsed). */
function typed(schema: JsonSchema, text: string): unknown {
  if (schema.type === 'number' || schema.type === 'integer') return text === '' ? undefined : Number(text);
  if (schema.type === 'boolean') return text === 'true';
  return text === '' ? undefined : text;
}

/** One input per property of an object schema; a JSON text area for anything else. */
function DataFields({ schema, values, onChange }: { schema: JsonSchema | undefined; values: Record<string, string>; onChange: (name: string, text: string) => void }) {
  const properties = schema?.type === 'object' || schema?.properties ? Object.entries(schema?.properties ?? {}) : null;
  if (properties === null || properties.length === 0) {
    return html`<label>data (JSON, optional)<textarea name="data-json" rows="3" value=${values['']} onInput=${(e: Event) => onChange('', (e.target as HTMLTextAreaElement).value)} /></label>`;
  }
  return properties.map(([name, prop]) => {
    const required = schema?.required?.includes(name) === true;
    const title = `${prop.title ?? name}${required ? ' *' : ''}`;
    const set = (e: Event): void => onChange(name, (e.target as HTMLInputElement).value);
    if (prop.enum !== undefined) {
      return html`<label>${title}<select name=${`data-${name}`} value=${values[name]} onChange=${set}><option value=""></option>${prop.enum.map((v) => html`<option value=${String(v)}>${String(v)}</option>`)}</select></label>`;
    }
    if (prop.type === 'boolean') {
      return html`<label>${title}<select name=${`data-${name}`} value=${values[name]} onChange=${set}><option value=""></option><option>true</option><option>false</option></select></label>`;
    }
    return html`<label>${title}<input name=${`data-${name}`} type=${prop.type === 'number' || prop.type === 'integer' ? 'number' : 'text'} value=${values[name]} onInput=${set} /></label>`;
  });
}

/**
 * The approve / reject form of gate `taskId` while it `waits`; once it no longer does (approved,
 * perhaps from here), only the reply to the last decision sent, which the task panel keeps.
 */
export function GateForm({ runId, taskId, schema, waits, reply, setReply }: { runId: string; taskId: string; schema: JsonSchema | undefined; waits: boolean; reply: CommandReply | null; setReply: (reply: CommandReply) => void }) {
  const [comment, setComment] = useState('');
  const [values, setValues] = useState<Record<string, string>>({});
  if (READ_ONLY) return null;
  if (!waits) return reply === null ? null : html`<div class="gate-form"><${ReplyLine} reply=${reply} /></div>`;
  const dataOf = (): unknown => {
    if (values[''] !== undefined && values[''] !== '') return JSON.parse(values['']);
    const entries = Object.entries(values).filter(([k]) => k !== '').map(([k, v]) => [k, typed(schema?.properties?.[k] ?? {}, v)] as const);
    const data = Object.fromEntries(entries.filter(([, v]) => v !== undefined));
    return Object.keys(data).length > 0 ? data : undefined;
  };
  const decide = async (type: 'CMD.APPROVE' | 'CMD.REJECT'): Promise<void> => {
    let data: unknown;
    try {
      data = dataOf();
    } catch (error) {
      setReply({ accepted: false, code: 'VALIDATION_FAILED', message: `data is not JSON: ${(error as Error).message}` });
      return;
    }
    setReply(await sendCommand(runId, { type, taskId, ...(comment !== '' ? { comment } : {}), ...(data !== undefined ? { data } : {}) }));
  };
  return html`<form class="gate-form" onSubmit=${(e: Event) => e.preventDefault()}>
    <label>comment<input name="comment" value=${comment} onInput=${(e: Event) => setComment((e.target as HTMLInputElement).value)} /></label>
    <${DataFields} schema=${schema} values=${values} onChange=${(name: string, text: string) => setValues({ ...values, [name]: text })} />
    <div class="buttons">
      <button type="button" class="action approve" data-action="CMD.APPROVE" onClick=${() => decide('CMD.APPROVE')}>Approve</button>
      <button type="button" class="action reject" data-action="CMD.REJECT" onClick=${() => decide('CMD.REJECT')}>Reject</button>
    </div>
    <${ReplyLine} reply=${reply} />
  </form>`;
}
