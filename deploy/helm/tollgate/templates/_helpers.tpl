{{/*
Names. fullname is the release name when it contains "tollgate" (so
`helm install tollgate` gives deploy/k8s's names), else <release>-tollgate.
*/}}
{{- define "tollgate.name" -}}
{{- default "tollgate" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tollgate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else if contains (include "tollgate.name" .) .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "tollgate.name" .) | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* 50 + "-release-deferred" stays within 63 characters. */}}
{{- define "tollgate.workerName" -}}
{{- printf "%s-worker" (include "tollgate.fullname" .) -}}
{{- end -}}

{{- define "tollgate.kafkaAuthName" -}}
{{- printf "%s-kafka" (include "tollgate.fullname" .) -}}
{{- end -}}

{{- define "tollgate.releaseName" -}}
{{- printf "%s-release-deferred" (include "tollgate.fullname" .) -}}
{{- end -}}

{{- define "tollgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tollgate.workerName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: name the existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tollgate.secretName" -}}
{{- default (include "tollgate.workerName" .) .Values.secret.name -}}
{{- end -}}

{{- define "tollgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
Labels. Selectors use name, instance and component only (a Deployment's
selector is immutable); the rest may change between chart versions.
Call with (dict "ctx" $ "component" "worker").
*/}}
{{- define "tollgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tollgate.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tollgate.labels" -}}
{{ include "tollgate.selectorLabels" . }}
app.kubernetes.io/part-of: tollgate
app.kubernetes.io/version: {{ default .ctx.Chart.AppVersion .ctx.Values.image.tag | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/*
A worker.conf value. Helm reads numbers in values as float64, which print
as 1.048576e+06: integers are printed as integers.
*/}}
{{- define "tollgate.confValue" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) -}}
{{- int64 . -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/* Checks of values that would make a broken deployment. */}}
{{- define "tollgate.validate" -}}
{{- if not (has .Values.kafkaAuth (list "scram-sha-512" "aws-msk-iam" "none")) -}}
{{- fail (printf "kafkaAuth must be scram-sha-512, aws-msk-iam or none, not %q" (toString .Values.kafkaAuth)) -}}
{{- end -}}
{{- $drain := int64 (default 30000 (index .Values.config "drain-timeout-ms")) -}}
{{- if le (mul (int64 .Values.terminationGracePeriodSeconds) 1000) $drain -}}
{{- fail (printf "terminationGracePeriodSeconds (%d s) must exceed config.drain-timeout-ms (%d ms): SIGKILL would cut the drain" (int64 .Values.terminationGracePeriodSeconds) $drain) -}}
{{- end -}}
{{- if .Values.keda.enabled -}}
{{- $min := int64 .Values.keda.minReplicas -}}
{{- $max := int64 .Values.keda.maxReplicas -}}
{{- if or (lt $min 1) (gt $min $max) -}}
{{- fail (printf "keda: need 1 <= minReplicas (%d) <= maxReplicas (%d)" $min $max) -}}
{{- end -}}
{{- if gt $max (int64 .Values.keda.requestsPartitions) -}}
{{- fail (printf "keda.maxReplicas (%d) exceeds keda.requestsPartitions (%d): replicas beyond the partition count of %s.requests get no partition (add partitions first)" $max (int64 .Values.keda.requestsPartitions) .Values.kafka.topicPrefix) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.keda.enabled (eq .Values.kafkaAuth "aws-msk-iam") (eq .Values.keda.awsIdentityOwner "workload") (not .Values.keda.awsRoleArn) (not .Values.serviceAccount.roleArn) -}}
{{- fail "keda.awsIdentityOwner workload takes the role from the ServiceAccount's eks.amazonaws.com/role-arn (IRSA), and serviceAccount.roleArn is empty: set it, or with EKS Pod Identity set keda.awsIdentityOwner=keda (the KEDA operator's role) or keda.awsRoleArn" -}}
{{- end -}}
{{- if and .Values.redisTls.enabled (not .Values.redisTls.existingSecret) -}}
{{- fail "redisTls.enabled: set redisTls.existingSecret to the Secret holding the CA (and the client certificate and key); for the system CA bundle alone leave redisTls off and use a rediss:// URL" -}}
{{- end -}}
{{- end -}}

{{/*
Redis over TLS (worker and release CronJob): env entries, the mount and the
volume; callers include them only when redisTls.enabled. The variable names
are provisional until the Redis TLS options land.
*/}}
{{- define "tollgate.redisTlsEnv" -}}
- name: {{ .Values.redisTls.env.caFile }}
  value: {{ printf "%s/%s" .Values.redisTls.mountPath .Values.redisTls.caKey | quote }}
{{- if .Values.redisTls.clientCert }}
- name: {{ .Values.redisTls.env.cert }}
  value: {{ printf "%s/%s" .Values.redisTls.mountPath .Values.redisTls.certKey | quote }}
- name: {{ .Values.redisTls.env.key }}
  value: {{ printf "%s/%s" .Values.redisTls.mountPath .Values.redisTls.keyKey | quote }}
{{- end }}
{{- end -}}

{{- define "tollgate.redisTlsMount" -}}
- name: redis-tls
  mountPath: {{ .Values.redisTls.mountPath }}
  readOnly: true
{{- end -}}

{{- define "tollgate.redisTlsVolume" -}}
- name: redis-tls
  secret:
    secretName: {{ .Values.redisTls.existingSecret }}
    items:
      - key: {{ .Values.redisTls.caKey }}
        path: {{ .Values.redisTls.caKey }}
      {{- if .Values.redisTls.clientCert }}
      - key: {{ .Values.redisTls.certKey }}
        path: {{ .Values.redisTls.certKey }}
      - key: {{ .Values.redisTls.keyKey }}
        path: {{ .Values.redisTls.keyKey }}
      {{- end }}
{{- end -}}

{{/* The Redis URL and Kafka credentials from the Secret. */}}
{{- define "tollgate.secretEnv" -}}
- name: TOLLGATE_REDIS
  valueFrom:
    secretKeyRef:
      name: {{ include "tollgate.secretName" . }}
      key: {{ .Values.secret.keys.redisUrl }}
{{- end -}}
