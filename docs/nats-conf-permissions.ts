// Reads the users' permissions out of the repository's nats.conf, for docs/nats.md: the document
// then says what the server enforces, not what someone remembered. Only the shape nats.conf uses
// is understood (a `user:` per entry, `publish` before `subscribe`, quoted subject lists).

/** One user's subject permissions. */
export interface UserPermissions {
  user: string;
  publishAllow: string[];
  publishDeny: string[];
  subscribeAllow: string[];
}

/** The quoted subjects of the `key: [...]` list in `section`, or [] when it has none. */
function list(section: string, key: 'allow' | 'deny'): string[] {
  const match = new RegExp(`\\b${key}\\s*:\\s*\\[([^\\]]*)\\]`).exec(section);
  return match?.[1] === undefined ? [] : [...match[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}

/** Every user of nats.conf with its publish allow/deny and subscribe allow lists. */
export function parseNatsConfPermissions(text: string): UserPermissions[] {
  const code = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join('\n');
  const starts = [...code.matchAll(/\buser\s*:\s*([A-Za-z0-9_-]+)/g)];
  return starts.map((start, i) => {
    const block = code.slice(start.index, starts[i + 1]?.index ?? code.length);
    const publishAt = block.search(/\bpublish\s*:/);
    const subscribeAt = block.search(/\bsubscribe\s*:/);
    if (publishAt < 0 || subscribeAt < publishAt) throw new Error(`nats.conf: user ${start[1]}: expected a publish then a subscribe section`);
    const publish = block.slice(publishAt, subscribeAt);
    return { user: start[1]!, publishAllow: list(publish, 'allow'), publishDeny: list(publish, 'deny'), subscribeAllow: list(block.slice(subscribeAt), 'allow') };
  });
}

/** NATS subject matching: `*` stands for one token, a final `>` for one or more. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const want = pattern.split('.');
  const have = subject.split('.');
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '>') return have.length > i;
    if (i >= have.length || (want[i] !== '*' && want[i] !== have[i])) return false;
  }
  return want.length === have.length;
}

/** True when the user may publish on `subject` (some allow matches, no deny does). */
export function mayPublish(user: UserPermissions, subject: string): boolean {
  return user.publishAllow.some((p) => subjectMatches(p, subject)) && !user.publishDeny.some((p) => subjectMatches(p, subject));
}
