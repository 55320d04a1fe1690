import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { renderChart } from '../../helpers/helm-subset';

const root = join(__dirname, '../../..');
const chartDir = join(root, 'charts/mcp-tunnel-proxy');
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string }; spec: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any -- arbitrary manifests

function objects(values: Record<string, unknown>): K8sObject[] {
  return [...renderChart(chartDir, values).values()].flatMap((text) =>
    parseAllDocuments(text).map((d) => {
      if (d.errors.length > 0) throw d.errors[0]!;
      return d.toJS() as K8sObject | null;
    }),
  ).filter((o): o is K8sObject => o !== null);
}

/**
 * Validates manifests against the Kubernetes OpenAPI schemas compiled in kubernetes-models (an
 * ESM-only package, so it runs in a node child process rather than under jest's CommonJS transform).
 */
function schemaErrors(objs: K8sObject[]): string[] {
  const script = `
    const objs = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
    const errors = [];
    for (const o of objs) {
      const mod = await import('kubernetes-models/' + (o.apiVersion === 'v1' ? 'v1' : o.apiVersion));
      const Model = mod[o.kind];
      if (!Model) { errors.push('no model for ' + o.apiVersion + ' ' + o.kind); continue; }
      try { new Model(o).validate(); } catch (e) { errors.push(o.kind + ': ' + e.message); }
    }
    console.log(JSON.stringify(errors));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script.replace("require('node:fs')", "(await import('node:fs'))")], {
    cwd: root,
    input: JSON.stringify(objs),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as string[];
}

const VARIANTS: Array<[string, Record<string, unknown>]> = [
  ['default values', {}],
  ['a chart-made Secret', { secret: { existingSecret: '', value: 'a-tunnel-secret-of-enough-length' } }],
  ['NetworkPolicy without ops scrapers', { networkPolicy: { enabled: true } }],
  [
    'NetworkPolicy, scrapers, extras and no PDB',
    {
      networkPolicy: { enabled: true, opsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }], ports: [{ port: 9000, protocol: 'TCP' }] }] },
      podDisruptionBudget: { enabled: false },
      image: { tag: '9.9.9' },
      replicaCount: 3,
      extraEnv: [{ name: 'MCP_TUNNEL_CA_FILE', value: '/etc/mcp-tunnel/ca/ca.pem' }],
      extraVolumes: [{ name: 'ca', configMap: { name: 'gateway-ca' } }],
      extraVolumeMounts: [{ name: 'ca', mountPath: '/etc/mcp-tunnel/ca', readOnly: true }],
      tunnel: { allow: 'mcp.internal:9000', pinSha256: 'a'.repeat(64) },
      podAnnotations: { 'prometheus.io/scrape': 'true' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'mcp', effect: 'NoSchedule' }],
      affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'mcp-tunnel-proxy' } } } }] } },
      serviceAccountName: 'mcp-tunnel',
    },
  ],
];

describe('charts/mcp-tunnel-proxy', () => {
  const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, string>;
  const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;

  it('Chart.yaml is a v2 application chart whose appVersion is the package version', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'mcp-tunnel-proxy', type: 'application', appVersion: pkg.version });
    expect(chart['version']).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('documents every value in its README', () => {
    const readme = readFileSync(join(chartDir, 'README.md'), 'utf8');
    const keys = (o: Record<string, unknown>, prefix = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0 && !['resources', 'podSecurityContext', 'containerSecurityContext', 'readinessProbe', 'livenessProbe'].includes(k) ? keys(v as Record<string, unknown>, `${prefix}${k}.`) : [`${prefix}${k}`]));
    const missing = keys(values).filter((k) => !readme.includes(`\`${k}\``));
    expect(missing).toEqual([]);
  });

  describe.each(VARIANTS)('rendered with %s', (_name, over) => {
    const objs = objects(over);
    const deployment = objs.find((o) => o.kind === 'Deployment')!;
    const pod = deployment.spec['template'].spec;
    const container = pod.containers[0];

    it('validates against the Kubernetes schemas', () => {
      expect(schemaErrors(objs)).toEqual([]);
    });

    it('has no Service and no inbound exposure', () => {
      expect(objs.map((o) => o.kind).filter((k) => k === 'Service' || k === 'Ingress')).toEqual([]);
      expect(pod.hostNetwork).toBeUndefined();
    });

    it('runs non-root, read-only, with no capabilities and the RuntimeDefault seccomp profile', () => {
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
      expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'] } });
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(container.resources.limits.memory).toBeDefined();
    });

    it('probes /readyz and /healthz on the ops port the proxy listens on', () => {
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'ops' });
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'ops' });
      const port = container.ports.find((p: { name: string }) => p.name === 'ops').containerPort;
      expect(container.env).toContainEqual({ name: 'MCP_TUNNEL_OPS_LISTEN', value: `0.0.0.0:${port}` });
    });

    it('mounts the secret as a whole volume (no subPath: rotation reaches the file) and points the proxy at it', () => {
      const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'tunnel-secret');
      expect(mount).toEqual({ name: 'tunnel-secret', mountPath: '/etc/mcp-tunnel/secret', readOnly: true });
      expect(container.env).toContainEqual({ name: 'MCP_TUNNEL_SECRET_FILE', value: '/etc/mcp-tunnel/secret/tunnel-secret' });
      const volume = pod.volumes.find((v: { name: string }) => v.name === 'tunnel-secret');
      const made = objs.find((o) => o.kind === 'Secret');
      expect(volume.secret.secretName).toBe(made ? made.metadata.name : 'mcp-tunnel-secret');
      expect(JSON.stringify(container.env)).not.toContain('a-tunnel-secret-of-enough-length');
    });

    it('keeps replicas, the PodDisruptionBudget and the NetworkPolicy as the values say', () => {
      const v = { replicaCount: 2, podDisruptionBudget: { enabled: true }, networkPolicy: { enabled: false }, ...over } as Record<string, { enabled?: boolean } | number>;
      expect(deployment.spec['replicas']).toBe(v['replicaCount']);
      expect(objs.some((o) => o.kind === 'PodDisruptionBudget')).toBe((v['podDisruptionBudget'] as { enabled: boolean }).enabled);
      const np = objs.find((o) => o.kind === 'NetworkPolicy');
      expect(np !== undefined).toBe((v['networkPolicy'] as { enabled: boolean }).enabled);
      if (np) {
        expect(np.spec['policyTypes']).toEqual(['Ingress', 'Egress']);
        expect(np.spec['egress'][0].ports).toEqual([{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }]);
      }
    });
  });

  it('refuses to render without a secret source (required)', () => {
    expect(() => objects({ secret: { existingSecret: '', value: '' } })).toThrow('secret.existingSecret or secret.value is required');
  });

  it('defaults to 2 replicas', () => {
    expect(values['replicaCount']).toBe(2);
  });
});

describe('test/helpers/helm-subset and the schema check (what the chart tests rely on)', () => {
  it.each(['{{ range .Values.x }}{{ end }}', '{{ with .Values.x }}{{ end }}', '{{ tpl .Values.x . }}', '{{ $x := 1 }}', '{{ if .Values.a }}{{ else if .Values.b }}{{ end }}'])(
    'throws on %s (outside the subset) instead of rendering it differently from Helm',
    (template) => {
      const dir = mkdtempSync(join(tmpdir(), 'chart-'));
      try {
        mkdirSync(join(dir, 'templates'));
        writeFileSync(join(dir, 'Chart.yaml'), 'apiVersion: v2\nname: t\nversion: 0.0.1\nappVersion: "1"\n');
        writeFileSync(join(dir, 'values.yaml'), 'x: [1]\na: false\nb: true\n');
        writeFileSync(join(dir, 'templates', 't.yaml'), template);
        expect(() => renderChart(dir, {})).toThrow(/outside the supported subset|unknown function/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('the schema check rejects an invalid object', () => {
    const bad = objects({})[0]!;
    const broken = JSON.parse(JSON.stringify(bad)) as K8sObject;
    broken.spec['template'].spec.containers[0].ports[0].containerPort = 'ops';
    expect(schemaErrors([broken])).toEqual([expect.stringContaining('containerPort must be integer')]);
  });
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

describe('deploy/kubernetes (kustomize)', () => {
  (kubectl ? it : it.skip)('`kubectl kustomize` builds it, valid against the schemas, and in step with the chart defaults', () => {
    const r = spawnSync('kubectl', ['kustomize', join(root, 'deploy/kubernetes')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const built = parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject);
    expect(schemaErrors(built)).toEqual([]);
    const fromChart = [...renderChart(chartDir, {}, { Name: 'mcp-tunnel', Namespace: 'default' }).values()]
      .flatMap((t) => parseAllDocuments(t).map((d) => d.toJS() as K8sObject | null))
      .filter((o): o is K8sObject => o !== null);
    const byKind = (l: K8sObject[]) => Object.fromEntries(l.map((o) => [o.kind, o]));
    expect(byKind(built)).toEqual(byKind(fromChart));
  });
});
