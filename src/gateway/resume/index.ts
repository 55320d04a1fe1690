export { ResumableResponse, MAX_HELD_EVENT_BYTES, MAX_REMEMBERED_IDS, RESUME_BACKOFF, type ResumeDeps } from './resumable';
export { SseCursor, MAX_EVENT_ID_BYTES, type SseCursorOptions, type SseCursorStats } from './sse-cursor';
export { isResumableFailure, resumeRefusal, resumeHeaders, classifyResumeHead, type ResumeIdentity, type ResumeHeadVerdict } from './attempt';
