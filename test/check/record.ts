/** The recording view lives with the trace module; footprint tests use the same one. */
export { type Recording, recordingView } from '../../src/trace/reads.ts';
