/**
 * Tool-name patterns: `*` matches any run of characters (including none); every other character
 * matches itself, case-sensitively (MCP tool names are case-sensitive). No other metacharacters,
 * so a tool name containing `.`, `?` or `[` needs no escaping.
 */
export type GlobMatcher = (name: string) => boolean;

/** Compiles one pattern. Never throws: every string is a valid pattern. */
export function compileGlob(pattern: string): GlobMatcher {
  if (!pattern.includes('*')) return (name) => name === pattern;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[\\^$.|?+()[\]{}/-]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`, 's');
  return (name) => re.test(name);
}

/** A compiled list of patterns that remembers which pattern matched (for the audit record). */
export class GlobList {
  readonly #entries: ReadonlyArray<{ pattern: string; match: GlobMatcher }>;

  constructor(patterns: readonly string[]) {
    this.#entries = patterns.map((pattern) => ({ pattern, match: compileGlob(pattern) }));
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The first pattern that matches `name`, or null. */
  firstMatch(name: string): string | null {
    for (const e of this.#entries) if (e.match(name)) return e.pattern;
    return null;
  }
}
