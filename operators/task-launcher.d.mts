/** The launcher's marker and log file names, relative to the attempt folder (local-attempt-files.ts's, which a test keeps equal). */
export declare const FILES: {
  claim: string;
  started: string;
  exitCode: string;
  killed: string;
  stdout: string;
  stderr: string;
};
