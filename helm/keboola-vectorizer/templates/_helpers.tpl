{{/*
Chart name, truncated like the full name.
*/}}
{{- define "keboola-vectorizer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of every resource. At most 52 characters: the CronJob controller appends an 11-character
suffix to each Job it creates and a Job name must stay within 63 characters.
*/}}
{{- define "keboola-vectorizer.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "keboola-vectorizer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels.
*/}}
{{- define "keboola-vectorizer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "keboola-vectorizer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "keboola-vectorizer.labels" -}}
helm.sh/chart: {{ include "keboola-vectorizer.chart" . }}
{{ include "keboola-vectorizer.selectorLabels" . }}
app.kubernetes.io/version: {{ include "keboola-vectorizer.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/component: indexer
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Datadog unified service tagging labels (on the CronJob, the Job and the pod).
*/}}
{{- define "keboola-vectorizer.datadogLabels" -}}
tags.datadoghq.com/env: {{ .Values.datadog.env | trunc 63 | quote }}
tags.datadoghq.com/service: {{ .Values.datadog.service | trunc 63 | quote }}
tags.datadoghq.com/version: {{ default (include "keboola-vectorizer.imageTag" .) .Values.datadog.version | trunc 63 | quote }}
{{- end }}

{{/*
Image tag: the explicit tag or the chart's appVersion.
*/}}
{{- define "keboola-vectorizer.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag | toString }}
{{- end }}

{{/*
Name of the ServiceAccount.
*/}}
{{- define "keboola-vectorizer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "keboola-vectorizer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the Secret mounted as the secrets directory.
*/}}
{{- define "keboola-vectorizer.secretName" -}}
{{- default (include "keboola-vectorizer.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
Directory the secrets are mounted at; the indexer reads it as KV_SECRETS_DIR.
*/}}
{{- define "keboola-vectorizer.secretsDir" -}}
/var/run/secrets/keboola-vectorizer
{{- end }}

{{/*
Directory the projects config is mounted at.
*/}}
{{- define "keboola-vectorizer.configDir" -}}
/etc/keboola-vectorizer
{{- end }}

{{/*
Checks across values that values.schema.json cannot express (it checks each value's type and form).
*/}}
{{- define "keboola-vectorizer.validate" -}}
{{- if and (not .Values.keboola.storageApiUrl) (not .Values.keboola.projects) }}
{{- fail "set keboola.storageApiUrl (one project) or keboola.projects (several)" }}
{{- end }}
{{- if and .Values.indexedJob.enabled (not .Values.keboola.projects) }}
{{- fail "indexedJob.enabled splits keboola.projects across pods: list the projects there" }}
{{- end }}
{{- if and .Values.indexedJob.enabled (gt (int .Values.indexedJob.shards) (len .Values.keboola.projects)) }}
{{- fail (printf "indexedJob.shards (%d) exceeds the %d projects: a pod with no project exits 3 (configuration error), which fails the whole Job" (int .Values.indexedJob.shards) (len .Values.keboola.projects)) }}
{{- end }}
{{- if and .Values.indexedJob.enabled (has "--rebuild" .Values.extraArgs) }}
{{- fail "--rebuild cannot run as an Indexed Job: each shard would switch the alias to a collection holding only its own projects; run it once without indexedJob" }}
{{- end }}
{{- if not .Values.existingSecret }}
{{- range .Values.keboola.projects }}
{{- if not (get $.Values.secrets .token_secret) }}
{{- fail (printf "keboola.projects: token_secret %s has no value under secrets (or use existingSecret)" .token_secret) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
