/** The package version (the host stamps its records with it too: actors/writer-stamp.ts). */
export { packageVersion } from '../actors/writer-stamp.ts';
