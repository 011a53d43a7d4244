#!/usr/bin/env node
// Validates manifests rendered by `helm template` (run by charts/validate.sh).
//
//   node charts/validate-manifests.js <label>=<rendered.yaml> [<label>=<rendered.yaml> ...]
//
// For each YAML document:
//   1. schema: kubernetes-models (`require('kubernetes-models/<group>/<version>')[kind]`, then
//      `new Model(doc).validate()`); ServiceMonitor through @kubernetes-models/prometheus-operator.
//      Note: these validators check types, enums and required fields but do not reject unknown fields.
//   2. chart rules: the internal Services (gRPC, http-internal) are never NodePort/LoadBalancer; every
//      container is hardened; probes, downward-API env, advertise address, drain timing; HPA targets
//      have no replicas; Service, PDB and HPA selectors match a workload; names fit DNS limits; the
//      chart renders no Secret. Auth: PUSH_SECRET in every container or in none, from a secretKeyRef;
//      PUSH_CONTROL_SECRET on gateways only. Workers: the demo (pod annotation push/worker: demo) runs
//      `push worker`; your image ("custom") gets the chart's env (PUSH_REGISTRY, PUSH_ADVERTISE, PUSH_GRPC,
//      PUSH_HTTP) and may set its own command. NetworkPolicy: every pod is selected by exactly one; only
//      the gateways' ws port admits everyone; the gRPC port admits this release's pods; no empty `from`. With internal gRPC TLS (PUSH_GRPC_TLS_CERT in any container): every
//      container has it, its files come from a mounted Secret, every internal address is https://,
//      no gRPC probe, gRPC Service ports say appProtocol https, and an advertised
//      $(POD_IP_DASHED).<Service> name has the /bin/sh wrapper and a headless Service publishing
//      not-ready pods.
// Prints one line per failure and a summary; exits 1 on any failure.
'use strict';

const fs = require('fs');
const path = require('path');

const toolsModules = path.join(__dirname, '..', 'tools', 'node_modules');
const load = (name) => require(require.resolve(name, { paths: [toolsModules, __dirname] }));
const yaml = load('js-yaml');

const failures = [];
const counts = { documents: 0, schemaValidated: 0, ruleChecks: 0, containers: 0 };
const kinds = new Map();

function fail(where, message) {
  failures.push(`${where}: ${message}`);
}

function check(where, condition, message) {
  counts.ruleChecks += 1;
  if (!condition) fail(where, message);
  return Boolean(condition);
}

// ---- 1. schema validation ------------------------------------------------------------------

function modelFor(apiVersion, kind) {
  // Core group "v1" -> kubernetes-models/v1; "apps/v1" -> kubernetes-models/apps/v1; the Prometheus
  // Operator CRDs come from @kubernetes-models/prometheus-operator.
  const modulePath = apiVersion === 'monitoring.coreos.com/v1'
    ? '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1'
    : `kubernetes-models/${apiVersion}`;
  let group;
  try {
    group = load(modulePath);
  } catch (e) {
    return { error: `no schema module for apiVersion ${apiVersion} (${modulePath})` };
  }
  const Model = group[kind];
  if (typeof Model !== 'function') {
    return { error: `no schema for kind ${kind} in ${modulePath}` };
  }
  return { Model };
}

function validateSchema(where, doc) {
  const { Model, error } = modelFor(String(doc.apiVersion || ''), String(doc.kind || ''));
  if (error) {
    fail(where, error);
    return;
  }
  try {
    new Model(doc).validate();
    counts.schemaValidated += 1;
  } catch (e) {
    const details = Array.isArray(e.errors)
      ? e.errors.map((x) => `${x.instancePath || '/'} ${x.message}`).join('; ')
      : e.message;
    fail(where, `schema: ${details}`);
  }
}

// ---- 2. chart rules ------------------------------------------------------------------------

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function matches(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => labels && labels[k] === v);
}

function podTemplateOf(doc) {
  return doc.spec && doc.spec.template;
}

function envValue(container, name) {
  return (container.env || []).find((e) => e.name === name);
}

// True when `file` is one of the items of a Secret volume mounted in the container.
function isMountedSecretFile(podSpec, container, file) {
  return (container.volumeMounts || []).some((m) => {
    const volume = (podSpec.volumes || []).find((v) => v.name === m.name);
    return volume && volume.secret
      && (volume.secret.items || []).some((item) => file === `${m.mountPath.replace(/\/$/, '')}/${item.path}`);
  });
}

// The only command the chart may set: a /bin/sh wrapper that fills in $(POD_IP_DASHED) and execs push.
function isAdvertiseWrapper(command) {
  return Array.isArray(command) && command[0] === '/bin/sh' && command[1] === '-c'
    && /POD_IP_DASHED=/.test(command[2] || '') && /exec dotnet \/app\/push\.dll "\$@"\s*$/.test(command[2] || '');
}

function checkContainer(where, podSpec, container, component, ctx) {
  counts.containers += 1;
  const here = `${where} container ${container.name}`;
  const sc = container.securityContext || {};
  const podSc = podSpec.securityContext || {};
  check(here, sc.runAsNonRoot === true || (sc.runAsNonRoot === undefined && podSc.runAsNonRoot === true),
    'securityContext.runAsNonRoot must be true');
  check(here, sc.readOnlyRootFilesystem === true, 'securityContext.readOnlyRootFilesystem must be true');
  check(here, sc.allowPrivilegeEscalation === false, 'securityContext.allowPrivilegeEscalation must be false');
  check(here, sc.privileged !== true, 'securityContext.privileged must not be true');
  check(here, ((sc.capabilities || {}).drop || []).includes('ALL'), 'securityContext.capabilities.drop must contain ALL');
  check(here, ((sc.capabilities || {}).add || []).length === 0, 'securityContext.capabilities.add must be empty');
  const seccomp = (sc.seccompProfile || podSc.seccompProfile || {}).type;
  check(here, seccomp === 'RuntimeDefault' || seccomp === 'Localhost', 'seccompProfile must be RuntimeDefault (or Localhost)');
  const tmpMount = (container.volumeMounts || []).find((m) => m.mountPath === '/tmp');
  const tmpVolume = tmpMount && (podSpec.volumes || []).find((v) => v.name === tmpMount.name);
  check(here, tmpVolume && tmpVolume.emptyDir, '/tmp must be an emptyDir mount (the root filesystem is read-only)');

  const portNames = (container.ports || []).map((p) => p.name);
  check(here, portNames.includes('grpc') && portNames.includes('http-internal'), 'ports grpc and http-internal must be declared');
  if (component === 'gateway') check(here, portNames.includes('ws'), 'gateway must declare the ws port');
  check(here, container.readinessProbe, 'readinessProbe is required');
  check(here, container.livenessProbe, 'livenessProbe is required');
  const ready = (container.readinessProbe || {}).httpGet;
  if (ready) check(here, ready.path === '/healthz/ready', `readinessProbe path is ${ready.path}, expected /healthz/ready`);
  const live = (container.livenessProbe || {}).httpGet;
  if (live) check(here, live.path === '/healthz/live', `livenessProbe path is ${live.path}, expected /healthz/live`);
  check(here, container.resources && container.resources.requests, 'resources.requests must be set');

  const env = container.env || [];
  const names = env.map((e) => e.name);
  for (const [name, fieldPath] of [['POD_NAME', 'metadata.name'], ['POD_NAMESPACE', 'metadata.namespace'], ['POD_IP', 'status.podIP']]) {
    const entry = envValue(container, name);
    check(here, entry && entry.valueFrom && entry.valueFrom.fieldRef && entry.valueFrom.fieldRef.fieldPath === fieldPath,
      `${name} must come from the downward API (${fieldPath})`);
  }
  for (const name of ['PUSH_SECRET', 'PUSH_CONTROL_SECRET']) {
    const secret = envValue(container, name);
    if (secret) {
      check(here, secret.valueFrom && secret.valueFrom.secretKeyRef && !('value' in secret),
        `${name} must come from a secretKeyRef, never a literal value`);
    }
  }
  const control = envValue(container, 'PUSH_CONTROL_SECRET');
  check(here, !control || component === 'gateway', 'PUSH_CONTROL_SECRET is for gateways only');
  if (control) {
    const member = envValue(container, 'PUSH_SECRET');
    check(here, member && member.valueFrom.secretKeyRef.key !== control.valueFrom.secretKeyRef.key,
      'the control secret must be another key than the member secret');
  }
  const custom = ctx.workerMode === 'custom' && component === 'worker';
  if (custom) {
    for (const name of ['PUSH_GRPC', 'PUSH_HTTP']) {
      check(here, envValue(container, name) && envValue(container, name).value, `${name} must tell your worker where to listen`);
    }
    check(here, !/\bpush-grpc\/push\b/.test(container.image || ''), 'a custom worker must not run the push image (that is worker.demo)');
  } else {
    check(here, (container.args || [])[0] === component, `first argument must be the subcommand "${component}"`);
  }
  if (component === 'gateway' || component === 'worker') {
    const registry = envValue(container, 'PUSH_REGISTRY');
    check(here, registry && /^https?:\/\//.test(registry.value || ''), 'PUSH_REGISTRY must list registry URLs');
    const advertise = envValue(container, 'PUSH_ADVERTISE');
    check(here, advertise && advertise.value, 'PUSH_ADVERTISE must be set');
    for (const [, ref] of ((advertise && advertise.value) || '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
      if (ref === 'POD_IP_DASHED') {
        check(here, isAdvertiseWrapper(container.command), '$(POD_IP_DASHED) in PUSH_ADVERTISE needs the /bin/sh wrapper command');
        check(here, !names.includes('POD_IP_DASHED'), 'POD_IP_DASHED must not be an env variable (Kubernetes would expand it)');
      } else {
        check(here, names.indexOf(ref) >= 0 && names.indexOf(ref) < names.indexOf('PUSH_ADVERTISE'),
          `${ref} must be defined before PUSH_ADVERTISE for $(${ref}) to expand`);
      }
    }
    if (ctx.internalTls) {
      check(here, registry && (registry.value || '').split(',').every((u) => u.startsWith('https://')),
        'with internal TLS every PUSH_REGISTRY URL must be https://');
      check(here, advertise && (advertise.value || '').startsWith('https://'), 'with internal TLS PUSH_ADVERTISE must be https://');
    }
  }
  if (container.command !== undefined && !custom) {
    check(here, isAdvertiseWrapper(container.command), 'the only command allowed is the $(POD_IP_DASHED) wrapper that execs push');
  }
  if (ctx.internalTls) {
    for (const name of ['PUSH_GRPC_TLS_CERT', 'PUSH_GRPC_TLS_KEY', 'Cluster__TlsCa']) {
      const entry = envValue(container, name);
      check(here, entry && isMountedSecretFile(podSpec, container, entry.value || ''),
        `with internal TLS ${name} must point to a file of a mounted Secret`);
    }
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      check(here, !(container[probe] && container[probe].grpc), `with internal TLS ${probe} cannot be a gRPC probe (the kubelet has no TLS for them)`);
    }
  }
  const clientCa = envValue(container, 'PUSH_GRPC_CLIENT_CA');
  if (clientCa) {
    check(here, ctx.internalTls, 'PUSH_GRPC_CLIENT_CA needs PUSH_GRPC_TLS_CERT');
    for (const name of ['PUSH_GRPC_CLIENT_CA', 'Cluster__TlsClientCert', 'Cluster__TlsClientKey']) {
      const entry = envValue(container, name);
      check(here, entry && isMountedSecretFile(podSpec, container, entry.value || ''),
        `with mutual TLS ${name} must point to a file of a mounted Secret`);
    }
  }
  if (component === 'gateway') {
    const drain = Number((envValue(container, 'PUSH_DRAIN_TIMEOUT') || {}).value);
    check(here, Number.isFinite(drain), 'PUSH_DRAIN_TIMEOUT must be set');
    const preStop = container.lifecycle && container.lifecycle.preStop;
    const sleep = preStop && preStop.sleep ? Number(preStop.sleep.seconds) : 0;
    const grace = podSpec.terminationGracePeriodSeconds === undefined ? 30 : podSpec.terminationGracePeriodSeconds;
    check(here, grace > drain + sleep,
      `terminationGracePeriodSeconds (${grace}) must exceed preStop sleep (${sleep}) + PUSH_DRAIN_TIMEOUT (${drain})`);
    const cert = envValue(container, 'PUSH_TLS_CERT');
    if (cert) {
      const mounts = container.volumeMounts || [];
      check(here, mounts.some((m) => cert.value.startsWith(`${m.mountPath}/`)), 'PUSH_TLS_CERT must point into a mounted volume');
      const tlsVolume = (podSpec.volumes || []).find((v) => v.secret && mounts.some((m) => m.name === v.name));
      check(here, tlsVolume, 'the TLS files must come from a mounted Secret');
    }
  }
}

function checkWorkload(where, doc, hpaTargets, ctx) {
  const template = podTemplateOf(doc);
  const podSpec = (template && template.spec) || {};
  const labels = (template && template.metadata && template.metadata.labels) || {};
  const component = labels['app.kubernetes.io/component'];
  check(where, ['registry', 'gateway', 'worker'].includes(component), `unexpected component label "${component}"`);
  check(where, matches(doc.spec.selector.matchLabels, labels), 'selector.matchLabels must match the pod labels');
  check(where, podSpec.automountServiceAccountToken === false, 'automountServiceAccountToken must be false');
  check(where, template.metadata.annotations && template.metadata.annotations['checksum/config'],
    'pod template needs a checksum/config annotation');
  const podSc = podSpec.securityContext || {};
  check(where, podSc.runAsNonRoot === true, 'pod securityContext.runAsNonRoot must be true');
  check(where, (podSc.seccompProfile || {}).type === 'RuntimeDefault', 'pod seccompProfile must be RuntimeDefault');
  const containers = [...(podSpec.initContainers || []), ...(podSpec.containers || [])];
  check(where, containers.length > 0, 'no containers');
  const workerMode = ((template.metadata || {}).annotations || {})['push/worker'];
  if (component === 'worker') {
    check(where, workerMode === 'demo' || workerMode === 'custom', 'worker pods need the annotation push/worker: demo|custom');
  }
  for (const container of containers) checkContainer(where, podSpec, container, component, { ...ctx, workerMode });
  if (hpaTargets.has(`${doc.kind}/${doc.metadata.name}`)) {
    check(where, doc.spec.replicas === undefined, 'replicas must be left out when an HPA scales this workload');
  }
  if (doc.kind === 'StatefulSet') {
    check(where, doc.metadata.name.length <= 52, 'StatefulSet names must be at most 52 characters (controller-revision-hash label)');
  }
  return { component, labels };
}

function checkService(where, doc, workloads, ctx) {
  const spec = doc.spec || {};
  const type = spec.type || 'ClusterIP';
  const ports = spec.ports || [];
  const component = (doc.metadata.labels || {})['app.kubernetes.io/component'];
  check(where, dns1035Label.test(doc.metadata.name), 'Service name must be a DNS-1035 label');
  for (const port of ports) {
    check(where, port.name, 'every Service port must be named');
  }
  if (type === 'NodePort' || type === 'LoadBalancer') {
    // Only the public WebSocket port may leave the cluster.
    for (const port of ports) {
      check(where, port.name === 'ws', `${type} Service exposes internal port "${port.name}"; only "ws" may be public`);
    }
  }
  const grpcAppProtocol = ctx.internalTls ? 'https' : 'kubernetes.io/h2c';
  for (const port of ports.filter((p) => p.name === 'grpc')) {
    check(where, port.appProtocol === grpcAppProtocol, `grpc ports must declare appProtocol ${grpcAppProtocol}`);
  }
  for (const port of ports.filter((p) => p.name === 'http-api')) {
    check(where, port.appProtocol === (ctx.internalTls ? 'https' : 'http'), `http-api ports must declare appProtocol ${ctx.internalTls ? 'https' : 'http'}`);
  }
  // The control Service: grpc, plus the HTTP/JSON API (http-api) with gateway.httpApi.enabled.
  const isGatewayGrpc = component === 'gateway' && ports.some((p) => p.name === 'grpc')
    && ports.every((p) => p.name === 'grpc' || p.name === 'http-api');
  if (isGatewayGrpc) {
    check(where, type === 'ClusterIP' && spec.clusterIP !== 'None', 'the gateway gRPC control Service must be a ClusterIP Service');
  }
  const selected = workloads.filter((w) => matches(spec.selector, w.labels));
  check(where, spec.selector && selected.length > 0, 'selector matches no workload of the chart');
  check(where, selected.every((w) => w.component === component), 'selector matches pods of another component');
  return { component, isGatewayGrpc, type, headless: spec.clusterIP === 'None', ports };
}

function containerPortNumbers(workload, name) {
  return containersOfWorkload(workload.doc).flatMap((c) => (c.ports || []).filter((p) => p.name === name).map((p) => p.containerPort));
}

function containersOfWorkload(doc) {
  return (((podTemplateOf(doc) || {}).spec || {}).containers || []);
}

// The chart's NetworkPolicies: one per workload, ingress only; everyone may reach the gateways' ws port and
// nothing else; the release's own pods may reach every gRPC port; no rule has an empty `from` (it admits all).
function checkNetworkPolicies(label, policies, workloads) {
  if (policies.length === 0) return;
  for (const w of workloads) {
    const selecting = policies.filter((p) => matches(p.spec.podSelector.matchLabels, w.labels));
    check(`[${label}] ${w.doc.kind}/${w.doc.metadata.name}`, selecting.length === 1,
      `expected exactly one NetworkPolicy selecting these pods, found ${selecting.length}`);
  }
  for (const p of policies) {
    const here = `[${label}] NetworkPolicy/${p.metadata.name}`;
    const selected = workloads.filter((w) => matches(p.spec.podSelector.matchLabels, w.labels));
    check(here, selected.length > 0, 'podSelector matches no workload of the chart');
    check(here, (p.spec.policyTypes || []).includes('Ingress'), 'policyTypes must include Ingress');
    const component = ((p.metadata || {}).labels || {})['app.kubernetes.io/component'];
    const ports = (name) => new Set(selected.flatMap((w) => containerPortNumbers(w, name)));
    const grpc = ports('grpc');
    const ws = ports('ws');
    let grpcAdmitsRelease = false;
    for (const rule of p.spec.ingress || []) {
      const rulePorts = (rule.ports || []).map((x) => x.port);
      check(here, rulePorts.length > 0, 'every ingress rule must name its ports');
      if (rule.from === undefined) {
        check(here, component === 'gateway' && rulePorts.every((x) => ws.has(x)), `only the gateways' ws port may admit everyone (rule on ${rulePorts.join(',')})`);
      } else {
        check(here, rule.from.length > 0, 'an empty `from` admits everyone; leave the rule out instead');
      }
      if (rulePorts.some((x) => grpc.has(x)) && rule.from) {
        grpcAdmitsRelease = rule.from.some((peer) => peer.podSelector && !peer.namespaceSelector
          && workloads.every((w) => matches(peer.podSelector.matchLabels, w.labels)));
      }
    }
    check(here, grpcAdmitsRelease, "the gRPC port must admit every pod of the release (podSelector on the release's labels)");
  }
}

function validateFile(label, file) {
  const text = fs.readFileSync(file, 'utf8');
  const docs = yaml.loadAll(text).filter((d) => d && typeof d === 'object');
  const where = (d) => `[${label}] ${d.kind}/${(d.metadata || {}).name}`;
  const seen = new Set();
  const hpaTargets = new Set(docs.filter((d) => d.kind === 'HorizontalPodAutoscaler')
    .map((d) => `${d.spec.scaleTargetRef.kind}/${d.spec.scaleTargetRef.name}`));

  for (const doc of docs) {
    counts.documents += 1;
    kinds.set(doc.kind, (kinds.get(doc.kind) || 0) + 1);
    validateSchema(where(doc), doc);
    const id = `${doc.kind}/${(doc.metadata || {}).namespace || ''}/${(doc.metadata || {}).name}`;
    check(where(doc), !seen.has(id), 'duplicate resource');
    seen.add(id);
    const name = (doc.metadata || {}).name || '';
    check(where(doc), name.length <= 63 && dns1123Label.test(name), 'name must be a DNS-1123 label of at most 63 characters');
    check(where(doc), doc.kind !== 'Secret', 'the chart must never create Secrets');
    const labels = (doc.metadata || {}).labels || {};
    check(where(doc), labels['app.kubernetes.io/managed-by'] && labels['helm.sh/chart'], 'standard labels missing');
  }

  const workloadDocs = docs.filter((d) => d.kind === 'Deployment' || d.kind === 'StatefulSet');
  const containersOf = (d) => (((podTemplateOf(d) || {}).spec || {}).containers || []);
  const allContainers = workloadDocs.flatMap(containersOf);
  // Internal gRPC TLS is all or nothing: a cleartext peer cannot talk to a TLS one.
  const ctx = { internalTls: allContainers.some((c) => envValue(c, 'PUSH_GRPC_TLS_CERT')) };
  if (ctx.internalTls) {
    check(`[${label}]`, allContainers.every((c) => envValue(c, 'PUSH_GRPC_TLS_CERT')),
      'internal TLS must be on in every container or in none');
  }
  // Auth is all or nothing too: a member without the secret cannot call, nor be called by, the others.
  check(`[${label}]`, allContainers.every((c) => envValue(c, 'PUSH_SECRET')) || allContainers.every((c) => !envValue(c, 'PUSH_SECRET')),
    'PUSH_SECRET must be in every container or in none');
  const workloads = [];
  for (const doc of workloadDocs) {
    workloads.push({ doc, ...checkWorkload(where(doc), doc, hpaTargets, ctx) });
  }
  checkNetworkPolicies(label, docs.filter((d) => d.kind === 'NetworkPolicy'), workloads);
  const services = [];
  for (const doc of docs.filter((d) => d.kind === 'Service')) {
    services.push({ doc, ...checkService(where(doc), doc, workloads, ctx) });
  }
  // An advertised https://$(POD_IP_DASHED).<service>.<namespace>.svc... name must resolve: CoreDNS serves it for the
  // endpoints of a headless Service of the chart that selects this workload, published before the pod is ready.
  for (const w of workloads) {
    for (const c of containersOf(w.doc)) {
      const advertise = (envValue(c, 'PUSH_ADVERTISE') || {}).value || '';
      const m = /^https?:\/\/\$\(POD_IP_DASHED\)\.([a-z0-9-]+)\.[a-z0-9-]+\.svc\./.exec(advertise);
      if (!m) continue;
      const svc = services.find((s) => s.doc.metadata.name === m[1]);
      const here = `${where(w.doc)} container ${c.name}`;
      if (check(here, svc, `advertised Service ${m[1]} is not rendered`)) {
        check(here, svc.headless && matches(svc.doc.spec.selector, w.labels), `advertised Service ${m[1]} must be headless and select these pods`);
        check(here, svc.doc.spec.publishNotReadyAddresses === true, `advertised Service ${m[1]} must publish not-ready addresses`);
      }
    }
  }
  for (const doc of docs.filter((d) => d.kind === 'StatefulSet')) {
    const svc = services.find((s) => s.doc.metadata.name === doc.spec.serviceName);
    check(where(doc), svc && svc.headless, 'serviceName must name a headless Service of the chart');
  }
  for (const doc of docs.filter((d) => d.kind === 'PodDisruptionBudget')) {
    const selector = doc.spec.selector.matchLabels;
    check(where(doc), workloads.some((w) => matches(selector, w.labels)), 'selector matches no workload');
    check(where(doc), (doc.spec.minAvailable === undefined) !== (doc.spec.maxUnavailable === undefined),
      'exactly one of minAvailable and maxUnavailable');
  }
  for (const doc of docs.filter((d) => d.kind === 'HorizontalPodAutoscaler')) {
    const ref = doc.spec.scaleTargetRef;
    check(where(doc), workloads.some((w) => w.doc.kind === ref.kind && w.doc.metadata.name === ref.name),
      `scaleTargetRef ${ref.kind}/${ref.name} is not rendered`);
    check(where(doc), (doc.spec.metrics || []).length > 0, 'needs at least one metric');
    check(where(doc), doc.spec.minReplicas <= doc.spec.maxReplicas, 'minReplicas above maxReplicas');
  }
  for (const doc of docs.filter((d) => d.kind === 'ServiceMonitor')) {
    const selected = services.filter((s) => matches(doc.spec.selector.matchLabels, s.doc.metadata.labels)
      && s.ports.some((p) => doc.spec.endpoints.some((e) => e.port === p.name)));
    check(where(doc), selected.length > 0, 'selects no Service with the scraped port');
    check(where(doc), selected.every((s) => s.headless), 'scrapes a non-headless Service (pods would be scraped twice)');
  }

  // Per values set: the components that exist have their Services.
  const components = new Set(workloads.map((w) => w.component));
  if (components.has('gateway')) {
    const grpc = services.filter((s) => s.isGatewayGrpc);
    check(`[${label}]`, grpc.length === 1, 'expected exactly one gateway gRPC control Service');
    check(`[${label}]`, services.some((s) => s.component === 'gateway' && s.ports.some((p) => p.name === 'ws') && !s.headless),
      'expected the public gateway ws Service');
  }
  for (const component of components) {
    check(`[${label}]`, services.some((s) => s.component === component && s.headless), `expected a headless Service for ${component}`);
  }
  return docs.length;
}

// `--summary <rendered.yaml>`: one line per document ("Kind name") and per container of a workload
// ("  container NAME image=... command=[...] args=[...] env=A,B"), for charts/validate.sh to grep.
function summarize(file) {
  const docs = yaml.loadAll(fs.readFileSync(file, 'utf8')).filter((d) => d && typeof d === 'object');
  for (const doc of docs) {
    console.log(`${doc.kind} ${(doc.metadata || {}).name}`);
    for (const c of (doc.kind === 'Deployment' || doc.kind === 'StatefulSet') ? containersOfWorkload(doc) : []) {
      console.log(`  container ${c.name} image=${c.image} command=${JSON.stringify(c.command || [])} `
        + `args=${JSON.stringify(c.args || [])} env=${(c.env || []).map((e) => e.name).join(',')}`);
    }
  }
}

function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--summary') {
    summarize(args[1]);
    return;
  }
  if (args.length === 0) {
    console.error('usage: validate-manifests.js <label>=<rendered.yaml> ...');
    process.exit(2);
  }
  const perSet = [];
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const label = eq > 0 ? arg.slice(0, eq) : path.basename(arg);
    const file = eq > 0 ? arg.slice(eq + 1) : arg;
    const before = failures.length;
    const n = validateFile(label, file);
    perSet.push(`${label}: ${n} documents, ${failures.length - before} failure(s)`);
  }
  for (const f of failures) console.log(`FAIL ${f}`);
  for (const line of perSet) console.log(`  ${line}`);
  const kindList = [...kinds.entries()].sort().map(([k, n]) => `${k}=${n}`).join(' ');
  console.log(`  kinds: ${kindList}`);
  console.log(`  manifests: ${counts.documents} documents, ${counts.schemaValidated} schema-valid, `
    + `${counts.containers} containers, ${counts.ruleChecks} rule checks, ${failures.length} failure(s)`);
  process.exit(failures.length === 0 ? 0 : 1);
}

main();
