/**
 * The bytes (UTF-16 code units, the same for these ASCII characters) that structure JSON text, for
 * the scanners that walk JSON without building it: the gateway's duplicate-key check
 * (gateway/body/strict-json.ts) and the audit's tolerant prefix scan (audit/prefix-scanner.ts).
 */
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const LBRACE = 0x7b;
export const RBRACE = 0x7d;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
