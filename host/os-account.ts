import os from 'node:os';

/** The OS account this process runs as, or undefined where the system has no name for it (a container without a passwd entry). */
export function osAccount(): string | undefined {
  try {
    return os.userInfo().username || undefined;
  } catch {
    // os.userInfo throws when the uid has no passwd entry: then there is no name to record.
    return undefined;
  }
}
