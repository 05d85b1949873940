{{/* The chart's name, or nameOverride. */}}
{{- define "approvald.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: fullnameOverride, or release-chart (the release alone when it already names the chart). */}}
{{- define "approvald.fullname" -}}
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

{{/* The Service's name: service.name (a template) or the full name. */}}
{{- define "approvald.serviceName" -}}
{{- if .Values.service.name }}
{{- tpl .Values.service.name . | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- include "approvald.fullname" . }}
{{- end }}
{{- end }}

{{- define "approvald.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "approvald.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "approvald.selectorLabels" -}}
app.kubernetes.io/name: {{ include "approvald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "approvald.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "approvald.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "approvald.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Whether the database is the embedded SQLite one; fails on an unknown type. */}}
{{- define "approvald.sqlite" -}}
{{- if eq .Values.database.type "sqlite" }}true
{{- else if ne .Values.database.type "postgres" }}
{{- fail (printf "database.type must be sqlite or postgres, not %q" .Values.database.type) }}
{{- end }}
{{- end }}

{{/* The replicas: one on SQLite (more is refused), replicaCount on PostgreSQL. */}}
{{- define "approvald.replicas" -}}
{{- if include "approvald.sqlite" . }}
{{- if gt (int .Values.replicaCount) 1 }}
{{- fail "database.type sqlite runs one replica: one process owns the database file; use postgres for more" }}
{{- end }}
{{- 1 }}
{{- else }}
{{- .Values.replicaCount }}
{{- end }}
{{- end }}

{{- define "approvald.pvcName" -}}
{{- default (printf "%s-data" (include "approvald.fullname" .)) .Values.database.sqlite.persistence.existingClaim }}
{{- end }}

{{/* The container's environment, shared by approvald and its migration init container. */}}
{{- define "approvald.env" -}}
- name: APPROVALD_ADDR
  value: ":8000"
{{- if include "approvald.sqlite" . }}
- name: APPROVALD_DATABASE
  value: sqlite:/data/approvald.db
{{- else }}
{{- if not .Values.database.postgres.existingSecret }}
{{- fail "database.type postgres needs database.postgres.existingSecret: the Secret holding the database URL" }}
{{- end }}
- name: APPROVALD_DATABASE
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.postgres.existingSecret }}
      key: {{ .Values.database.postgres.secretKey }}
- name: APPROVALD_DB_MAX_CONNS
  value: {{ .Values.database.postgres.maxConns | quote }}
{{- end }}
- name: SECRETS_MNT_PATH
  value: {{ .Values.secrets.mountPath | quote }}
{{- with .Values.cr8tor }}
{{- if .metadata.name }}
- name: METADATA_CONTAINER_NAME
  value: {{ tpl .metadata.name $ | quote }}
{{- end }}
{{- if .metadata.port }}
- name: METADATA_CONTAINER_PORT
  value: {{ .metadata.port | quote }}
{{- end }}
{{- if .publish.name }}
- name: PUBLISH_CONTAINER_NAME
  value: {{ tpl .publish.name $ | quote }}
{{- end }}
{{- if .publish.port }}
- name: PUBLISH_CONTAINER_PORT
  value: {{ .publish.port | quote }}
{{- end }}
{{- if not (has .approval (list "off" "publish")) }}
{{- fail (printf "cr8tor.approval must be \"off\" or \"publish\", not %q" .approval) }}
{{- end }}
- name: APPROVALD_GATEWAY_APPROVAL
  value: {{ .approval | quote }}
{{- if .policy }}
- name: APPROVALD_GATEWAY_POLICY
  value: {{ .policy | quote }}
{{- end }}
{{- if .serviceRule }}
- name: APPROVALD_GATEWAY_SERVICE_RULE
  value: {{ .serviceRule | quote }}
{{- end }}
{{- if .timeout }}
- name: APPROVALD_GATEWAY_TIMEOUT
  value: {{ .timeout | quote }}
{{- end }}
{{- end }}
{{- if .Values.adminKey.existingSecret }}
- name: APPROVALD_ADMIN_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.adminKey.existingSecret }}
      key: {{ .Values.adminKey.secretKey }}
{{- end }}
{{- if .Values.nats.url }}
- name: APPROVALD_NATS_URL
  value: {{ .Values.nats.url | quote }}
{{- end }}
{{- with .Values.oidc }}
{{- if .issuer }}
- name: APPROVALD_OIDC_ISSUER
  value: {{ .issuer | quote }}
{{- end }}
{{- if .audience }}
- name: APPROVALD_OIDC_AUDIENCE
  value: {{ .audience | quote }}
{{- end }}
{{- if .clientId }}
- name: APPROVALD_OIDC_CLIENT_ID
  value: {{ .clientId | quote }}
{{- end }}
{{- if .groupScopes }}
- name: APPROVALD_OIDC_GROUP_SCOPES
  value: {{ .groupScopes | quote }}
{{- end }}
{{- end }}
{{- if .Values.publicURL }}
- name: APPROVALD_UI_BASE_URL
  value: {{ .Values.publicURL | quote }}
{{- end }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Whether secret files are mounted. */}}
{{- define "approvald.hasSecrets" -}}
{{- if or .Values.secrets.existingSecret .Values.secrets.csi.enabled }}true{{ end }}
{{- end }}

{{- define "approvald.secretProviderClassName" -}}
{{- default (printf "%s-secrets" (include "approvald.fullname" .)) .Values.secrets.csi.secretProviderClass }}
{{- end }}

{{/* The mounts of approvald and its migration init container. */}}
{{- define "approvald.volumeMounts" -}}
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- if include "approvald.hasSecrets" . }}
- name: secrets
  mountPath: {{ .Values.secrets.mountPath }}
  readOnly: true
{{- end }}
{{- end }}
