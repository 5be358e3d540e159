import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunStore } from '../host/run-store.ts';
import { startWebServer, type WebServer } from '../web/web-server.ts';
import type { CommandSender } from '../web/command-api.ts';
import { runCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

// The web view's HTTP security without a browser: token, Host and Origin checks, commands only with the header, read-only.

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request with exactly these headers (fetch would not let a test forge Host). */
function request(port: number, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...options.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('matterstack ui server: every request needs the token; Host and Origin are checked', () => {
  let temp: TempRoot;
  let store: RunStore;
  let server: WebServer;
  let readOnly: WebServer;
  let runId: string;
  const sent: { runId: string; input: Record<string, unknown> }[] = [];
  const send: CommandSender = async (id, input) => {
    sent.push({ runId: id, input });
    return { accepted: true, seq: 99 };
  };

  beforeAll(async () => {
    temp = tempRoot('ms-web-');
    temp.workspace('lab', oneWorkflowCampaign([{ id: 'a', command: 'true' }]));
    const init = await runCli(['init', 'lab', '--json'], { root: temp.root });
    runId = init.json<{ runId: string }>().runId;
    store = await RunStore.open({ root: temp.root, mustExist: true });
    const onError = (error: unknown): void => {
      throw error;
    };
    server = await startWebServer({ store, host: '127.0.0.1', port: 0, user: 'alice', send, onError });
    readOnly = await startWebServer({ store, host: '127.0.0.1', port: 0, user: 'alice', send: null, onError });
  });
  afterAll(async () => {
    await server?.close();
    await readOnly?.close();
    await store?.close();
    temp?.cleanup();
  });

  it('prints a URL on 127.0.0.1 with a 32-hex-digit token', () => {
    expect(server.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/\\?token=[0-9a-f]{32}$`));
  });

  it('answers 401 to a request without the token, or with a wrong one', async () => {
    for (const path of ['/', '/app.js', '/api/runs', `/api/runs/${runId}`, '/api/live']) {
      expect((await request(server.port, path)).status, path).toBe(401);
    }
    expect((await request(server.port, '/api/runs?token=0123456789abcdef0123456789abcdef')).status).toBe(401);
    expect((await request(server.port, '/api/runs', { headers: { 'x-matterstack-token': 'nope' } })).status).toBe(401);
  });

  it('serves the page with ?token= (setting an HttpOnly, SameSite=Strict cookie), then the API with the cookie or the header', async () => {
    const page = await request(server.port, `/?token=${server.token}`);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    const cookie = String(page.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const withCookie = await request(server.port, '/api/runs', { headers: { cookie: cookie.split(';')[0] as string } });
    expect(withCookie.status).toBe(200);
    expect(JSON.parse(withCookie.body)).toEqual([expect.objectContaining({ runId, workspace: 'lab', status: 'PENDING', tasksTotal: 1, tasksDone: 0 })]);
    const script = await request(server.port, '/app.js', { headers: { 'x-matterstack-token': server.token } });
    expect(script.status).toBe(200);
    expect(script.body).not.toMatch(/https?:\/\/(cdn|unpkg|esm\.sh)/);
  });

  it('refuses a foreign Host (DNS rebinding) and a cross-site Origin, token or not', async () => {
    const token = { 'x-matterstack-token': server.token };
    expect((await request(server.port, '/api/runs', { headers: { ...token, host: `evil.example:${server.port}` } })).status).toBe(403);
    expect((await request(server.port, '/api/runs', { headers: { ...token, host: 'localhost:1' } })).status).toBe(403);
    expect((await request(server.port, '/api/runs', { headers: { ...token, host: `localhost:${server.port}` } })).status).toBe(200);
    expect((await request(server.port, '/api/runs', { headers: { ...token, origin: 'http://evil.example' } })).status).toBe(403);
    expect((await request(server.port, '/api/runs', { headers: { ...token, origin: `http://127.0.0.1:${server.port}` } })).status).toBe(200);
  });

  it('takes a command only with the token in the header (a cookie alone is what a cross-site form would send)', async () => {
    const page = await request(server.port, `/?token=${server.token}`);
    const cookie = String(page.headers['set-cookie']).split(';')[0] as string;
    const body = JSON.stringify({ type: 'CMD.PAUSE' });
    const json = { 'content-type': 'application/json' };
    const byCookie = await request(server.port, `/api/runs/${runId}/commands`, { method: 'POST', headers: { ...json, cookie }, body });
    expect(byCookie.status).toBe(401);
    const byQuery = await request(server.port, `/api/runs/${runId}/commands?token=${server.token}`, { method: 'POST', headers: json, body });
    expect(byQuery.status).toBe(401);
    expect(sent).toEqual([]);
    const byHeader = await request(server.port, `/api/runs/${runId}/commands`, { method: 'POST', headers: { ...json, 'x-matterstack-token': server.token }, body });
    expect(byHeader.status).toBe(200);
    expect(JSON.parse(byHeader.body)).toEqual({ accepted: true, seq: 99 });
    expect(sent).toEqual([{ runId, input: { type: 'CMD.PAUSE' } }]);
  });

  it('refuses a malformed command naming the field, and a page-supplied `by`, sending nothing', async () => {
    const headers = { 'content-type': 'application/json', 'x-matterstack-token': server.token };
    const before = sent.length;
    const bad = await request(server.port, `/api/runs/${runId}/commands`, { method: 'POST', headers, body: JSON.stringify({ type: 'CMD.APPROVE', taskId: '../x' }) });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ accepted: false, code: 'VALIDATION_FAILED', message: expect.stringContaining('taskId') });
    const by = await request(server.port, `/api/runs/${runId}/commands`, { method: 'POST', headers, body: JSON.stringify({ type: 'CMD.PAUSE', by: 'mallory' }) });
    expect(by.status).toBe(400);
    expect(sent.length).toBe(before);
  });

  it('a read-only server says so to the page and refuses every command', async () => {
    const headers = { 'content-type': 'application/json', 'x-matterstack-token': readOnly.token };
    const session = await request(readOnly.port, '/api/session', { headers });
    expect(JSON.parse(session.body)).toEqual({ readOnly: true, user: 'alice' });
    const refused = await request(readOnly.port, `/api/runs/${runId}/commands`, { method: 'POST', headers, body: JSON.stringify({ type: 'CMD.PAUSE' }) });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ accepted: false, code: 'READ_ONLY' });
  });

  it('names an unknown run in a 404', async () => {
    const reply = await request(server.port, '/api/runs/nope', { headers: { 'x-matterstack-token': server.token } });
    expect(reply.status).toBe(404);
    expect(JSON.parse(reply.body)).toMatchObject({ error: { code: 'RUN_NOT_FOUND', message: 'run nope not found' } });
  });
});
