{{/* fullname - the release name, unless it lacks the chart's name. */}}
{{- define "pam-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pam-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pam-operator.labels" -}}
{{ include "pam-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "pam-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pam-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pam-operator.leaseName" -}}
{{- default (printf "%s-leader" (include "pam-operator.fullname" .)) .Values.leaderElection.id -}}
{{- end -}}

{{- define "pam-operator.pamCAConfigMap" -}}
{{- default (printf "%s-pam-ca" (include "pam-operator.fullname" .)) .Values.pamCA.existingConfigMap -}}
{{- end -}}
