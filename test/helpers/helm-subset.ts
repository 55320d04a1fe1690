import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

/**
 * A renderer for the subset of Helm's template language that charts/mcp-tunnel-proxy uses (Helm
 * itself is not installable here; docs/decisions.md D27). Supported, with Go text/template + sprig
 * semantics: `{{- … -}}` trimming; `.Values…`, `.Release.Name/Namespace/Service`, `.Chart.Name/
 * Version/AppVersion`, `.`; pipelines `a | f x`; `if`/`else`/`end`; `define`/`include`; the functions
 * `toYaml nindent indent quote default required printf trunc trimSuffix b64enc not and or eq`.
 * Anything else throws, so a template that strays outside the subset fails its test instead of
 * rendering differently from Helm.
 */
export interface HelmContext {
  Values: Record<string, unknown>;
  Release: { Name: string; Namespace: string; Service: string };
  Chart: { Name: string; Version: string; AppVersion: string };
}

type Node = { t: 'text'; s: string } | { t: 'act'; e: string } | { t: 'if'; e: string; yes: Node[]; no: Node[] };

const FUNCS: Record<string, (...a: unknown[]) => unknown> = {
  toYaml: (v) => (v === undefined || v === null ? 'null' : stringify(v).replace(/\n$/, '')),
  nindent: (n, s) => '\n' + indent(Number(n), String(s)),
  indent: (n, s) => indent(Number(n), String(s)),
  quote: (v) => JSON.stringify(text(v)),
  default: (d, v) => (truthy(v) ? v : d),
  required: (msg, v) => {
    if (!truthy(v)) throw new Error(`required: ${String(msg)}`);
    return v;
  },
  printf: (f, ...args) => String(f).replace(/%[svd]/g, () => String(args.shift())),
  trunc: (n, s) => String(s).slice(0, Number(n)),
  trimSuffix: (suf, s) => (String(s).endsWith(String(suf)) ? String(s).slice(0, -String(suf).length) : String(s)),
  b64enc: (s) => Buffer.from(String(s)).toString('base64'),
  not: (v) => !truthy(v),
  and: (...a) => a.every(truthy),
  or: (...a) => a.some(truthy),
  eq: (a, b) => a === b,
};

/** How a value prints in a template: nothing for nil, strings as they are, the rest as JSON (numbers, booleans). */
function text(v: unknown): string {
  return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}

function indent(n: number, s: string): string {
  return s.split('\n').map((l) => ' '.repeat(n) + l).join('\n');
}

/** Go template truthiness: false, 0, nil, "" and empty maps and lists are false. */
function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

function tokens(src: string): Array<{ text: string } | { action: string }> {
  const out: Array<{ text: string } | { action: string }> = [];
  const re = /\{\{(-?)\s*(.*?)\s*(-?)\}\}/gs;
  let last = 0;
  let trimNext = false;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    let text = src.slice(last, m.index);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (m[1]) text = text.replace(/\s+$/, '');
    out.push({ text }, { action: m[2]! });
    trimNext = m[3] === '-';
    last = re.lastIndex;
  }
  out.push({ text: trimNext ? src.slice(last).replace(/^\s+/, '') : src.slice(last) });
  return out;
}

/** Parses a template into nodes; `define` blocks go to `defines`. */
function build(src: string, defines: Map<string, Node[]>): Node[] {
  const root: Node[] = [];
  const stack: Array<{ nodes: Node[]; close: (n: Node[]) => void; ifNode?: Extract<Node, { t: 'if' }> }> = [{ nodes: root, close: () => undefined }];
  for (const tok of tokens(src)) {
    const top = stack[stack.length - 1]!;
    if ('text' in tok) {
      if (tok.text) top.nodes.push({ t: 'text', s: tok.text });
      continue;
    }
    const a = tok.action;
    if (a.startsWith('/*')) continue;
    const def = /^define "([^"]+)"$/.exec(a);
    if (def) {
      const body: Node[] = [];
      stack.push({ nodes: body, close: (n) => defines.set(def[1]!, n) });
    } else if (a.startsWith('if ')) {
      const node: Extract<Node, { t: 'if' }> = { t: 'if', e: a.slice(3), yes: [], no: [] };
      top.nodes.push(node);
      stack.push({ nodes: node.yes, close: () => undefined, ifNode: node });
    } else if (a === 'else') {
      if (!top.ifNode) throw new Error('else outside if');
      top.nodes = top.ifNode.no;
    } else if (a === 'end') {
      const done = stack.pop()!;
      done.close(done.nodes);
      if (stack.length === 0) throw new Error('unbalanced end');
    } else if (/^(range|with|else if|template|block|\$)/.test(a)) {
      throw new Error(`outside the supported subset: {{ ${a} }}`);
    } else top.nodes.push({ t: 'act', e: a });
  }
  if (stack.length !== 1) throw new Error('missing end');
  return root;
}

/** Splits on a separator outside quotes and parentheses. */
function split(s: string, sep: RegExp): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"' && s[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    if (!quoted && depth === 0 && sep.test(c)) {
      if (cur) parts.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur) parts.push(cur);
  return parts;
}

class Renderer {
  constructor(private readonly defines: Map<string, Node[]>) {}

  render(nodes: Node[], ctx: unknown): string {
    let out = '';
    for (const n of nodes) {
      if (n.t === 'text') out += n.s;
      else if (n.t === 'act') {
        const v = this.pipeline(n.e, ctx);
        out += text(v);
      } else out += this.render(truthy(this.pipeline(n.e, ctx)) ? n.yes : n.no, ctx);
    }
    return out;
  }

  private pipeline(expr: string, ctx: unknown): unknown {
    let value: unknown;
    split(expr, /\|/).forEach((cmd, i) => {
      const words = split(cmd.trim(), /\s/);
      const args = i === 0 ? words : [...words, PIPED];
      value = this.command(args, ctx, value);
    });
    return value;
  }

  private command(words: string[], ctx: unknown, piped: unknown): unknown {
    const [head, ...rest] = words;
    const arg = (w: string): unknown => (w === PIPED ? piped : this.operand(w, ctx));
    if (head === 'include') {
      const name = JSON.parse(rest[0]!) as string;
      const body = this.defines.get(name);
      if (!body) throw new Error(`include of undefined template ${name}`);
      return this.render(body, arg(rest[1]!));
    }
    if (head !== undefined && head in FUNCS) return FUNCS[head]!(...rest.map(arg));
    if (rest.length > 0) throw new Error(`unknown function ${head}`);
    return arg(head!);
  }

  private operand(w: string, ctx: unknown): unknown {
    if (w.startsWith('"')) return JSON.parse(w) as string;
    if (/^-?\d+$/.test(w)) return Number(w);
    if (w === 'true' || w === 'false') return w === 'true';
    if (w.startsWith('(')) return this.pipeline(w.slice(1, -1), ctx);
    if (w === '.') return ctx;
    if (w.startsWith('.')) return w.slice(1).split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), ctx);
    throw new Error(`outside the supported subset: ${w}`);
  }
}

const PIPED = '\u0000piped';

/** Deep merge of values files as Helm does it (maps merge, everything else replaces). */
export function mergeValues(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && b && typeof v === 'object' && typeof b === 'object' && !Array.isArray(v) && !Array.isArray(b) ? mergeValues(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** Renders every template of a chart: file name → rendered text (files starting with `_` define only). */
export function renderChart(chartDir: string, values: Record<string, unknown>, release = { Name: 'rel', Namespace: 'default' }): Map<string, string> {
  const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { name: string; version: string; appVersion: string };
  const defaults = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const ctx: HelmContext = {
    Values: mergeValues(defaults, values),
    Release: { ...release, Service: 'Helm' },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  const defines = new Map<string, Node[]>();
  const dir = join(chartDir, 'templates');
  const files = readdirSync(dir).filter((f) => /\.(yaml|tpl)$/.test(f));
  const trees = new Map(files.map((f) => [f, build(readFileSync(join(dir, f), 'utf8'), defines)]));
  const r = new Renderer(defines);
  const out = new Map<string, string>();
  for (const [f, nodes] of trees) if (!f.startsWith('_')) out.set(f, r.render(nodes, ctx));
  return out;
}
