/** The package version (the host stamps its records with it too: host/writer-stamp.ts). */
export { packageVersion } from '../host/writer-stamp.ts';
