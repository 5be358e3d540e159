// The page's entry: a hash router between the runs page and a run's page.
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { READ_ONLY, USER } from './api.ts';
import { RunPage } from './run-page.ts';
import { RunsPage } from './runs-page.ts';

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const update = (): void => setHash(location.hash);
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return hash;
}

function App() {
  const hash = useHash();
  const match = /^#\/run\/([^/]+)/.exec(hash);
  return html`<header class="top"><a href="#/">MatterStack</a><span class="muted">${USER}${READ_ONLY ? ' · read-only' : ''}</span></header>
    <main>${match ? html`<${RunPage} key=${match[1]} runId=${decodeURIComponent(match[1] as string)} />` : html`<${RunsPage} />`}</main>`;
}

const root = document.getElementById('app') as HTMLElement;
root.textContent = '';
render(html`<${App} />`, root);
