{{/*
Chart name, at most 63 characters.
*/}}
{{- define "push.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of every resource, at most 63 characters. The chart name is left out when the
release name already contains it.
*/}}
{{- define "push.fullname" -}}
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

{{/*
Name of a component resource: "<fullname>-<suffix>". The full name is shortened first so the
suffix always survives and two suffixes never collide after truncation.
Usage: include "push.componentName" (list $ "gateway-grpc")
       include "push.componentName" (list $ "registry" 52)   (52: StatefulSet names, whose pods get a
                                                               63-character controller-revision-hash label)
*/}}
{{- define "push.componentName" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- $max := 63 }}
{{- if gt (len .) 2 }}{{ $max = index . 2 }}{{ end }}
{{- $prefix := include "push.fullname" $root | trunc (int (sub $max (add (len $suffix) 1))) | trimSuffix "-" }}
{{- printf "%s-%s" $prefix $suffix }}
{{- end }}

{{- define "push.registryStatefulSetName" -}}
{{- include "push.componentName" (list . "registry" 52) }}
{{- end }}

{{- define "push.registryHeadlessName" -}}
{{- include "push.componentName" (list . "registry-headless") }}
{{- end }}

{{/*
Chart label value: name-version.
*/}}
{{- define "push.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels. Usage: include "push.selectorLabels" (list $ "gateway"); an empty component
leaves app.kubernetes.io/component out (resources shared by all components).
*/}}
{{- define "push.selectorLabels" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 -}}
app.kubernetes.io/name: {{ include "push.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- if $component }}
app.kubernetes.io/component: {{ $component }}
{{- end }}
{{- end }}

{{/*
Common labels. Usage: include "push.labels" (list $ "gateway")
*/}}
{{- define "push.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "push.chart" $root }}
{{ include "push.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: {{ include "push.name" $root }}
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Image reference: [registry/]repository:tag[@digest]; the tag defaults to the chart's appVersion.
*/}}
{{- define "push.image" -}}
{{- $registry := default .Values.image.registry .Values.global.imageRegistry }}
{{- $tag := default .Chart.AppVersion .Values.image.tag | toString }}
{{- $ref := printf "%s:%s" .Values.image.repository $tag }}
{{- if $registry }}{{ $ref = printf "%s/%s" (trimSuffix "/" $registry) $ref }}{{ end }}
{{- if .Values.image.digest }}{{ $ref = printf "%s@%s" $ref .Values.image.digest }}{{ end }}
{{- $ref }}
{{- end }}

{{/*
Service account name.
*/}}
{{- define "push.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "push.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Comma-separated registry addresses for gateways and workers (PUSH_REGISTRY): one per registry pod,
through the registry's headless Service, or registry.externalUrls when the registry is not deployed.
*/}}
{{- define "push.registryUrls" -}}
{{- if .Values.registry.enabled }}
{{- $sts := include "push.registryStatefulSetName" . }}
{{- $svc := include "push.registryHeadlessName" . }}
{{- $urls := list }}
{{- $scheme := include "push.grpcScheme" . }}
{{- range $i := until (int .Values.registry.replicaCount) }}
{{- $urls = append $urls (printf "%s://%s-%d.%s.%s.svc.%s:%d" $scheme $sts $i $svc $.Release.Namespace $.Values.global.clusterDomain (int $.Values.containerPorts.grpc)) }}
{{- end }}
{{- join "," $urls }}
{{- else }}
{{- if not .Values.registry.externalUrls }}
{{- fail "registry.enabled is false: set registry.externalUrls to the registry addresses the gateways and workers should use" }}
{{- end }}
{{- if .Values.internalTls.enabled }}
{{- range .Values.registry.externalUrls }}
{{- if not (hasPrefix "https://" .) }}
{{- fail (printf "internalTls.enabled is true: every registry.externalUrls entry must be https:// (got %s)" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- join "," .Values.registry.externalUrls }}
{{- end }}
{{- end }}

{{/*
Scheme of every internal gRPC address: https when internalTls.enabled, else http (h2c).
*/}}
{{- define "push.grpcScheme" -}}
{{- ternary "https" "http" (and .Values.internalTls.enabled true) }}
{{- end }}

{{/*
appProtocol of the gRPC Service ports: kubernetes.io/h2c (cleartext HTTP/2), or https (HTTP/2 over
TLS, negotiated by ALPN) when internalTls.enabled.
*/}}
{{- define "push.grpcAppProtocol" -}}
{{- ternary "https" "kubernetes.io/h2c" (and .Values.internalTls.enabled true) }}
{{- end }}

{{/*
Address a gateway or worker registers (PUSH_ADVERTISE): the component's advertiseAddress, else
http://$(POD_IP):<grpc> (Kubernetes expands $(POD_IP)), or with internalTls.enabled
https://$(POD_IP_DASHED).<headless Service>.<namespace>.svc.<clusterDomain>:<grpc>: a DNS name a wildcard
certificate can name. Kubernetes cannot compute $(POD_IP_DASHED): "push.command" substitutes it.
Usage: include "push.advertise" (list $ .Values.gateway "gateway-headless")
*/}}
{{- define "push.advertise" -}}
{{- $root := index . 0 }}
{{- $values := index . 1 }}
{{- $headless := include "push.componentName" (list $root (index . 2)) }}
{{- $port := int $root.Values.containerPorts.grpc }}
{{- if $values.advertiseAddress }}
{{- if and $root.Values.internalTls.enabled (not (hasPrefix "https://" $values.advertiseAddress)) }}
{{- fail (printf "internalTls.enabled is true: %s.advertiseAddress must be https:// (got %s)" (trimSuffix "-headless" (index . 2)) $values.advertiseAddress) }}
{{- end }}
{{- $values.advertiseAddress }}
{{- else if $root.Values.internalTls.enabled }}
{{- printf "https://$(POD_IP_DASHED).%s.%s.svc.%s:%d" $headless $root.Release.Namespace $root.Values.global.clusterDomain $port }}
{{- else }}
{{- printf "http://$(POD_IP):%d" $port }}
{{- end }}
{{- end }}

{{/*
Container command. Empty (the image's entrypoint, dotnet /app/push.dll) unless the advertise address
holds $(POD_IP_DASHED): then a /bin/sh wrapper sets POD_IP_DASHED (POD_IP with "." and ":" turned
into "-", the name CoreDNS gives a headless Service endpoint), substitutes it into PUSH_ADVERTISE
and execs push with the same arguments. Kubernetes leaves the undefined $(POD_IP_DASHED) as is.
Usage: include "push.command" (include "push.advertise" ...)
*/}}
{{- define "push.command" -}}
{{- if contains "$(POD_IP_DASHED)" . -}}
command:
  - /bin/sh
  - -c
  - |
    POD_IP_DASHED=`printf '%s' "$POD_IP" | tr '.:' '--'`
    placeholder='$(POD_IP_DASHED)'
    case "$PUSH_ADVERTISE" in
      *"$placeholder"*) PUSH_ADVERTISE="${PUSH_ADVERTISE%%"$placeholder"*}${POD_IP_DASHED}${PUSH_ADVERTISE#*"$placeholder"}" ;;
    esac
    export POD_IP_DASHED PUSH_ADVERTISE
    exec dotnet /app/push.dll "$@"
  - push
{{- end }}
{{- end }}

{{/*
Path of a file of the internalTls Secret. Usage: include "push.internalTlsFile" (list $ .Values.internalTls.certKey)
*/}}
{{- define "push.internalTlsFile" -}}
{{- $root := index . 0 }}
{{- printf "%s/%s" (trimSuffix "/" $root.Values.internalTls.mountPath) (index . 1) }}
{{- end }}

{{/*
Checks the internalTls values (included by the ConfigMap, which is always rendered).
*/}}
{{- define "push.validateInternalTls" -}}
{{- $tls := .Values.internalTls }}
{{- if $tls.enabled }}
{{- if not $tls.existingSecret }}
{{- fail "internalTls.enabled is true: set internalTls.existingSecret to a Secret holding the CA, certificate and key (the chart never creates secrets)" }}
{{- end }}
{{- range $component := list "registry" "gateway" "worker" }}
{{- $values := index $.Values $component }}
{{- $probed := false }}
{{- if eq $component "worker" }}{{ $probed = eq (include "push.workerMode" $) "custom" }}{{ else }}{{ $probed = $values.enabled }}{{ end }}
{{- if $probed }}
{{- range $probe := list "startupProbe" "livenessProbe" "readinessProbe" }}
{{- $spec := index $values $probe }}
{{- if and $spec.enabled $spec.grpc }}
{{- fail (printf "internalTls.enabled is true: %s.%s is a gRPC probe, and the kubelet's gRPC probes cannot speak TLS; keep the default httpGet probe on the http-internal port" $component $probe) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A "host:port" listen address. Usage: include "push.listen" (list $ port)
*/}}
{{- define "push.listen" -}}
{{- $root := index . 0 }}
{{- printf "%s:%d" $root.Values.global.listenHost (int (index . 1)) }}
{{- end }}

{{/*
A probe from values: drops the chart's `enabled` toggle, and the default handler (httpGet, or the
third argument) when another handler (exec, grpc, httpGet, tcpSocket) is set. Renders nothing when disabled.
Usage: include "push.probe" (list "readinessProbe" .Values.gateway.readinessProbe)
       include "push.probe" (list "readinessProbe" .Values.worker.readinessProbe "tcpSocket")
*/}}
{{- define "push.probe" -}}
{{- $name := index . 0 }}
{{- $probe := index . 1 }}
{{- $default := "httpGet" }}
{{- if gt (len .) 2 }}{{ $default = index . 2 }}{{ end }}
{{- if $probe.enabled }}
{{- $spec := omit $probe "enabled" }}
{{- range $other := without (list "exec" "grpc" "httpGet" "tcpSocket") $default }}
{{- if index $spec $other }}
{{- $spec = omit $spec $default }}
{{- end }}
{{- end }}
{{ $name }}:
  {{- toYaml $spec | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Pod annotations: checksum of the shared ConfigMap (rolls pods when it changes), checksum of the keys
the pods read from auth.existingSecret (when `lookup` can read it: helm install/upgrade with access to
the cluster; empty in helm template, --dry-run and Argo CD), auth.rolloutToken, then values.
Usage: include "push.podAnnotations" (list $ .Values.gateway)
*/}}
{{- define "push.podAnnotations" -}}
{{- $root := index . 0 }}
{{- $values := index . 1 -}}
checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
{{- with $root.Values.auth }}
{{- if .existingSecret }}
{{- $secret := lookup "v1" "Secret" $root.Release.Namespace .existingSecret }}
{{- if $secret }}
checksum/auth-secret: {{ pick ($secret.data | default dict) .existingSecretKey .controlSecretKey | toJson | sha256sum }}
{{- end }}
{{- end }}
{{- with .rolloutToken }}
push/auth-rollout-token: {{ . | quote }}
{{- end }}
{{- end }}
{{- with $values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Pod-level fields shared by all components. Usage: include "push.podSpec" (list $ "gateway" .Values.gateway)
*/}}
{{- define "push.podSpec" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 }}
{{- $values := index . 2 -}}
serviceAccountName: {{ include "push.serviceAccountName" $root }}
automountServiceAccountToken: {{ $root.Values.serviceAccount.automountServiceAccountToken }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
{{- with $values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.topologySpreadConstraints }}
{{- $selector := include "push.selectorLabels" (list $root $component) | fromYaml }}
{{- $constraints := list }}
{{- range . }}
{{- $constraint := . }}
{{- if not (hasKey $constraint "labelSelector") }}
{{- $constraint = merge (dict "labelSelector" (dict "matchLabels" $selector)) $constraint }}
{{- end }}
{{- $constraints = append $constraints $constraint }}
{{- end }}
topologySpreadConstraints:
  {{- toYaml $constraints | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Environment variables every container gets: pod identity from the downward API, the member secret
(PUSH_SECRET) and, on gateways, the control secret (PUSH_CONTROL_SECRET), both from auth.existingSecret,
and the internalTls settings. Usage: include "push.commonEnv" (list $ "gateway")
*/}}
{{- define "push.commonEnv" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 }}
{{- with $root -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- if .Values.auth.existingSecret }}
- name: PUSH_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.existingSecret }}
      key: {{ .Values.auth.existingSecretKey }}
{{- if and (eq $component "gateway") .Values.auth.controlSecretKey }}
- name: PUSH_CONTROL_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.existingSecret }}
      key: {{ .Values.auth.controlSecretKey }}
{{- end }}
{{- end }}
{{- with .Values.internalTls }}
{{- if .enabled }}
{{- $ca := include "push.internalTlsFile" (list $root .caKey) }}
{{- $cert := include "push.internalTlsFile" (list $root .certKey) }}
{{- $key := include "push.internalTlsFile" (list $root .keyKey) }}
# gRPC over TLS (internalTls): serve the gRPC port with the certificate, verify https:// peers against the CA.
- name: PUSH_GRPC_TLS_CERT
  value: {{ $cert | quote }}
- name: PUSH_GRPC_TLS_KEY
  value: {{ $key | quote }}
- name: Cluster__TlsCa
  value: {{ $ca | quote }}
{{- if .mutual }}
# mTLS: require client certificates from the CA, and present this pod's certificate to peers.
- name: PUSH_GRPC_CLIENT_CA
  value: {{ $ca | quote }}
- name: Cluster__TlsClientCert
  value: {{ $cert | quote }}
- name: Cluster__TlsClientKey
  value: {{ $key | quote }}
{{- end }}
# For `push status|send` run in the pod with kubectl exec.
- name: PUSH_TLS_CA
  value: {{ $ca | quote }}
{{- if .mutual }}
- name: PUSH_TLS_CLIENT_CERT
  value: {{ $cert | quote }}
- name: PUSH_TLS_CLIENT_KEY
  value: {{ $key | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Container fields shared by all components (image, security, config, resources, probes, /tmp). The
optional third argument: "demo-worker" (the push image with the fixed /healthz probes of `push worker`)
or "custom-worker" (worker.image, probes from values whose default handler is tcpSocket).
Usage: include "push.containerCommon" (list $ .Values.gateway)
*/}}
{{- define "push.containerCommon" -}}
{{- $root := index . 0 }}
{{- $values := index . 1 }}
{{- $mode := "" }}
{{- if gt (len .) 2 }}{{ $mode = index . 2 }}{{ end }}
{{- $image := include "push.image" $root }}
{{- $pullPolicy := $root.Values.image.pullPolicy }}
{{- if eq $mode "custom-worker" }}
{{- $image = printf "%s:%s" $values.image.repository (toString $values.image.tag) }}
{{- $pullPolicy = $values.image.pullPolicy }}
{{- end -}}
image: {{ $image }}
imagePullPolicy: {{ $pullPolicy }}
securityContext:
  {{- toYaml $root.Values.containerSecurityContext | nindent 2 }}
envFrom:
  - configMapRef:
      name: {{ include "push.componentName" (list $root "env") }}
{{- with $values.resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if eq $mode "demo-worker" }}
{{- include "push.demoWorkerProbes" $root }}
{{- else }}
{{- $handler := ternary "tcpSocket" "httpGet" (eq $mode "custom-worker") }}
{{- include "push.probe" (list "startupProbe" $values.startupProbe $handler) }}
{{- include "push.probe" (list "livenessProbe" $values.livenessProbe $handler) }}
{{- include "push.probe" (list "readinessProbe" $values.readinessProbe $handler) }}
{{- end }}
{{- end }}

{{/*
Probes of the demo worker (`push worker`): its health endpoints on the internal HTTP port. Ready means
registered and not draining. worker.*Probe describe your image's probes instead.
*/}}
{{- define "push.demoWorkerProbes" }}
startupProbe:
  httpGet:
    path: /healthz/startup
    port: http-internal
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet:
    path: /healthz/live
    port: http-internal
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /healthz/ready
    port: http-internal
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 3
{{- end }}

{{/*
What the worker Deployment runs: "demo" (worker.demo: the push image's `push worker`), "custom"
(worker.image.repository: your image) or "" (no worker Deployment). Fails on contradicting values.
Usage: include "push.workerMode" $
*/}}
{{- define "push.workerMode" -}}
{{- $w := .Values.worker }}
{{- if and $w.demo $w.image.repository }}
{{- fail (printf "worker.demo is true and worker.image.repository is set (%s): choose one, the demo worker runs the push image" $w.image.repository) }}
{{- end }}
{{- if $w.demo }}
{{- if $w.command }}
{{- fail "worker.command is set with worker.demo: the demo runs `push worker`; put extra arguments in worker.args" }}
{{- end -}}
demo
{{- else if $w.image.repository }}
{{- if eq (toString $w.image.tag) "" }}
{{- fail (printf "worker.image.repository is %s: set worker.image.tag as well (the chart does not guess a tag for your image)" $w.image.repository) }}
{{- end }}
{{- if and $.Values.internalTls.enabled (not $w.advertiseAddress) }}
{{- fail "internalTls.enabled with worker.image: set worker.advertiseAddress to an https:// address your worker's certificate names and Kubernetes can expand ($(POD_IP), $(POD_NAME), $(POD_NAMESPACE)); the default $(POD_IP_DASHED) name needs the push image's /bin/sh wrapper" }}
{{- end }}
{{- if contains "$(POD_IP_DASHED)" $w.advertiseAddress }}
{{- fail "worker.advertiseAddress uses $(POD_IP_DASHED), which only the push image's /bin/sh wrapper fills in; with worker.image use $(POD_IP), $(POD_NAME) or $(POD_NAMESPACE)" }}
{{- end -}}
custom
{{- end }}
{{- end }}

{{/*
Checks the auth values (included by the ConfigMap, which is always rendered): a Secret is required
unless auth.insecure is true.
*/}}
{{- define "push.validateAuth" -}}
{{- $auth := .Values.auth }}
{{- if and $auth.insecure $auth.existingSecret }}
{{- fail (printf "auth.insecure is true but auth.existingSecret is set (%s): remove one of them" $auth.existingSecret) }}
{{- end }}
{{- if not (or $auth.existingSecret $auth.insecure) }}
{{- fail (printf `auth.existingSecret is required: the internal gRPC APIs (registry, control API, worker streams) need credentials, and the chart never creates secrets. Create a Secret with the member secret and the control secret, then install with --set auth.existingSecret=push-auth:
  kubectl -n %s create secret generic push-auth --from-literal=%s=$(openssl rand -hex 32) --from-literal=%s=$(openssl rand -hex 32)
(keys: auth.existingSecretKey, auth.controlSecretKey). For a throwaway cluster without credentials set auth.insecure=true instead.` .Release.Namespace $auth.existingSecretKey (default "control-secret" $auth.controlSecretKey)) }}
{{- end }}
{{- if and $auth.existingSecret (eq $auth.existingSecretKey $auth.controlSecretKey) }}
{{- fail "auth.existingSecretKey and auth.controlSecretKey are the same key: the control secret must differ from the member secret (it grants less)" }}
{{- end }}
{{- end }}

{{/*
The /tmp emptyDir volume, and the internalTls Secret when enabled. Usage: include "push.tmpVolume" $
*/}}
{{- define "push.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- with .Values.internalTls }}
{{- if .enabled }}
- name: internal-tls
  secret:
    secretName: {{ .existingSecret }}
    defaultMode: 0440
    items:
      {{- range $key := uniq (list .caKey .certKey .keyKey) }}
      - key: {{ $key }}
        path: {{ $key }}
      {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Volume mounts of every container: /tmp, and the internalTls Secret when enabled. Usage: include "push.volumeMounts" $
*/}}
{{- define "push.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.internalTls.enabled }}
- name: internal-tls
  mountPath: {{ .Values.internalTls.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
Container ports. Usage: include "push.containerPorts" (list $ true) (true adds the ws port).
*/}}
{{- define "push.containerPorts" -}}
{{- $root := index . 0 }}
{{- if index . 1 -}}
- name: ws
  containerPort: {{ $root.Values.containerPorts.ws }}
  protocol: TCP
{{ end -}}
- name: grpc
  containerPort: {{ $root.Values.containerPorts.grpc }}
  protocol: TCP
- name: http-internal
  containerPort: {{ $root.Values.containerPorts.httpInternal }}
  protocol: TCP
{{- end }}

{{/*
PodDisruptionBudget spec body. Usage: include "push.pdbSpec" (list $ "gateway" .Values.gateway.podDisruptionBudget)
*/}}
{{- define "push.pdbSpec" -}}
{{- $root := index . 0 }}
{{- $pdb := index . 2 }}
{{- if ne (toString $pdb.minAvailable) "" -}}
minAvailable: {{ $pdb.minAvailable }}
{{- else if ne (toString $pdb.maxUnavailable) "" -}}
maxUnavailable: {{ $pdb.maxUnavailable }}
{{- else }}
{{- fail (printf "%s.podDisruptionBudget: set minAvailable or maxUnavailable" (index . 1)) }}
{{- end }}
selector:
  matchLabels:
    {{- include "push.selectorLabels" (list $root (index . 1)) | nindent 4 }}
{{- end }}

{{/*
HorizontalPodAutoscaler spec body. Usage: include "push.hpaSpec" (list $ "gateway" .Values.gateway.autoscaling)
*/}}
{{- define "push.hpaSpec" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 }}
{{- $hpa := index . 2 }}
{{- if gt (int $hpa.minReplicas) (int $hpa.maxReplicas) }}
{{- fail (printf "%s.autoscaling: minReplicas (%d) is above maxReplicas (%d)" $component (int $hpa.minReplicas) (int $hpa.maxReplicas)) }}
{{- end }}
{{- if not (or (gt (int $hpa.targetCPUUtilizationPercentage) 0) (gt (int $hpa.targetMemoryUtilizationPercentage) 0) $hpa.customMetrics) }}
{{- fail (printf "%s.autoscaling: enable at least one metric (targetCPUUtilizationPercentage, targetMemoryUtilizationPercentage or customMetrics)" $component) }}
{{- end -}}
scaleTargetRef:
  apiVersion: apps/v1
  kind: Deployment
  name: {{ include "push.componentName" (list $root $component) }}
minReplicas: {{ $hpa.minReplicas }}
maxReplicas: {{ $hpa.maxReplicas }}
metrics:
  {{- if gt (int $hpa.targetCPUUtilizationPercentage) 0 }}
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: {{ $hpa.targetCPUUtilizationPercentage }}
  {{- end }}
  {{- if gt (int $hpa.targetMemoryUtilizationPercentage) 0 }}
  - type: Resource
    resource:
      name: memory
      target:
        type: Utilization
        averageUtilization: {{ $hpa.targetMemoryUtilizationPercentage }}
  {{- end }}
  {{- with $hpa.customMetrics }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $hpa.behavior }}
behavior:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
