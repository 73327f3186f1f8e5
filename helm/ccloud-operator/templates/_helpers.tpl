{{/* Chart name, shortened to the 63 characters a label value allows. */}}
{{- define "ccloud-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Base name of every object: fullnameOverride, else "<release>" when it already holds the chart name, else "<release>-<chart>". */}}
{{- define "ccloud-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ccloud-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ccloud-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ccloud-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ccloud-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ccloud-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "ccloud-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ccloud-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ccloud-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Whether the metrics endpoint is served at all (port 0 turns it off in the operator). */}}
{{- define "ccloud-operator.metricsEnabled" -}}
{{- if gt (int .Values.metrics.port) 0 }}true{{ end }}
{{- end }}

{{/* The Deployment (and PodDisruptionBudget) of shard N: "<fullname>" with one shard, "<fullname>-shard-N" with more. */}}
{{- define "ccloud-operator.shardName" -}}
{{- $root := index . 0 }}{{- $shard := index . 1 }}
{{- if gt (int $root.Values.shards.count) 1 }}
{{- printf "%s-shard-%d" (include "ccloud-operator.fullname" $root) $shard | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- include "ccloud-operator.fullname" $root }}
{{- end }}
{{- end }}

{{/* The label that tells shards' pods apart; none with one shard, so its selector stays as it was. */}}
{{- define "ccloud-operator.shardLabels" -}}
{{- $root := index . 0 }}{{- $shard := index . 1 }}
{{- if gt (int $root.Values.shards.count) 1 }}
ccloud.operator.dev/shard: {{ $shard | quote }}
{{- end }}
{{- end }}
