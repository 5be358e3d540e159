/** The page's style sheet, inlined in the page. */
export const CLIENT_STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1f2933;background:#f7f9fb}
header.top{display:flex;gap:1em;align-items:center;padding:.5em 1em;background:#1f2933;color:#fff}header.top a{color:#fff;font-weight:600;text-decoration:none}
main{padding:1em}.muted{color:#7b8794}.error,.reply.refused{color:#c92a2a}.reply.ok{color:#2b8a3e}
.badge{display:inline-block;padding:0 .45em;border-radius:3px;color:#fff;font-size:12px}
table{border-collapse:collapse;background:#fff}td,th{padding:.25em .6em;border-bottom:1px solid #e4e7eb;text-align:left;vertical-align:top}
.filters,.buttons,.iterations,.tabs,.counts{display:flex;gap:.5em;flex-wrap:wrap;margin:.5em 0;align-items:center}
.tabs button.on,.iterations button.on{background:#1f2933;color:#fff}
.split{display:flex;gap:1em;align-items:flex-start}.dag-scroll{overflow:auto;max-height:75vh;flex:1;background:#fff;border:1px solid #e4e7eb}
.task-node,.task-group{cursor:pointer}.task-node.selected rect{stroke:#000;stroke-width:3}
.node-label{font-size:12px}.node-label.light{fill:#fff}.node-sub{font-size:10px;fill:#52606d}.group-box{fill:#fff;stroke:#9aa5b1;stroke-dasharray:4 2}
.edge{fill:none;stroke:#8896a6;stroke-width:1.2}
.panel{width:44em;max-height:75vh;overflow:auto;background:#fff;border:1px solid #e4e7eb;padding:.5em 1em;position:relative}
.close{position:absolute;right:.5em;top:.5em}.log pre{background:#1f2933;color:#e4e7eb;padding:.5em;max-height:16em;overflow:auto;white-space:pre-wrap}
.gate-form{display:flex;flex-direction:column;gap:.3em;padding:.5em;background:#fff8e6;border:1px solid #f0b429}.gate-form label{display:flex;flex-direction:column}
.timeline .lane-label{font-size:11px}.timeline .lane-group{font-size:12px;font-weight:600}.timeline .wait{fill:#cbd2d9}.squeeze rect{fill:#f0f4f8}.squeeze text{font-size:10px;fill:#52606d}
.wait-key,.run-key{display:inline-block;width:1.5em;height:.6em;background:#cbd2d9}.run-key{background:#2f80ed}
.scrubber{display:flex;gap:1em;align-items:center}.scrubber-input{flex:1}
details.json-node{margin-left:1em}.json-leaf{margin-left:1em}.json-key{color:#3e4c59;font-weight:600}.json-string{color:#2b8a3e}.json-number{color:#1864ab}
`;
