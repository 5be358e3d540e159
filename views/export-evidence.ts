import fs from 'node:fs';
import path from 'node:path';
import { MatterStackError } from '../events/errors.ts';
import { writeFileAtomic } from '../operators/atomic-file.ts';
import { buildEvidence, type EvidenceBundle, type EvidenceTarget } from './build-evidence.ts';
import { canonicalJson } from '../events/canonical-json.ts';
import { renderEvidenceReport } from './evidence-report.ts';

/** Where the evidence was written. */
export interface EvidenceExport {
  dir: string;
  bundlePath: string;
  reportPath: string;
  bundle: EvidenceBundle;
}

/**
 * Writes `runs/<runId>/evidence/bundle.json` and `report.md`, rebuilt from the log. Idempotent:
 * sorted keys and no export timestamp, so exporting twice gives byte-identical files. Tasks write in
 * the run folder: a link (or anything but a directory / regular file) at these paths is refused,
 * never written through.
 */
export async function exportEvidence(handle: EvidenceTarget): Promise<EvidenceExport> {
  const bundle = await buildEvidence(handle);
  const dir = path.join(handle.runDir, 'evidence');
  const bundlePath = path.join(dir, 'bundle.json');
  const reportPath = path.join(dir, 'report.md');
  refuseUnless('directory', dir);
  fs.mkdirSync(dir, { recursive: true });
  refuseUnless('directory', dir);
  refuseUnless('file', bundlePath);
  refuseUnless('file', reportPath);
  // Write-then-rename: a reader (or a crash) never sees half a file.
  await writeFileAtomic(bundlePath, `${canonicalJson(bundle, 2)}\n`);
  await writeFileAtomic(reportPath, renderEvidenceReport(bundle));
  return { dir, bundlePath, reportPath, bundle };
}

/** VALIDATION_FAILED naming `target` when it exists as anything but a real (not linked) `kind`. */
function refuseUnless(kind: 'directory' | 'file', target: string): void {
  let stats: fs.Stats;
  try {
    stats = fs.lstatSync(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (kind === 'directory' ? stats.isDirectory() : stats.isFile()) return;
  const what = stats.isSymbolicLink() ? `a symbolic link (to ${fs.readlinkSync(target)})` : `not a ${kind}`;
  throw new MatterStackError('VALIDATION_FAILED', `${target} is ${what}: export-evidence does not write through it; remove it and export again`, {
    path: target,
  });
}
