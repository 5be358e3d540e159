import fs from 'node:fs';
import path from 'node:path';
import { buildEvidence, type EvidenceBundle, type EvidenceTarget } from './build-evidence.ts';
import { canonicalJson } from './canonical-json.ts';
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
 * sorted keys and no export timestamp, so exporting twice gives byte-identical files.
 */
export async function exportEvidence(handle: EvidenceTarget): Promise<EvidenceExport> {
  const bundle = await buildEvidence(handle);
  const dir = path.join(handle.runDir, 'evidence');
  fs.mkdirSync(dir, { recursive: true });
  const bundlePath = path.join(dir, 'bundle.json');
  const reportPath = path.join(dir, 'report.md');
  writeAtomic(bundlePath, `${canonicalJson(bundle, 2)}\n`);
  writeAtomic(reportPath, renderEvidenceReport(bundle));
  return { dir, bundlePath, reportPath, bundle };
}

/** Write-then-rename so a reader (or a crash) never sees half a file. */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
