{{/* The release's resource name, at most 63 characters. */}}
{{- define "mcp-tunnel-proxy.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mcp-tunnel-proxy.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mcp-tunnel-proxy.labels" -}}
{{ include "mcp-tunnel-proxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "mcp-tunnel-proxy.secretName" -}}
{{- if .Values.secret.value -}}
{{ include "mcp-tunnel-proxy.fullname" . }}
{{- else -}}
{{ required "secret.existingSecret or secret.value is required" .Values.secret.existingSecret }}
{{- end -}}
{{- end -}}
