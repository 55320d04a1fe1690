/**
 * How the gateway reads a request body (docs/policy.md, "How the gateway reads a request"): the
 * header rules, the one decoding and parse, the bounded read, the one body limit, the digest both
 * directions share, and the pump into the tunnel.
 */
export { checkBodyHeaders, hasRequestBody } from './rules';
export { parseContentType, paramValues, type MediaType } from './content-type';
export { findDuplicateKey, readJsonBody, type JsonBody } from './strict-json';
export { NO_BODY, readBodyUpTo, type RequestBody } from './read';
export { BodyLimit } from './limit';
export { BodyDigest, type BodyDirection } from './digest';
export { pumpRequestBody, type BodyPump } from './pump';
