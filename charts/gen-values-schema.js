#!/usr/bin/env node
// Generates charts/push/values.schema.json and docs/helm-values.md (every key: default and description)
// from charts/push/values.yaml, and fills the default column of the README's chart values table (the
// rows between <!-- chart-values:begin --> and <!-- chart-values:end -->, one `key` per row; a key
// that is not in values.yaml is an error).
//
//   node charts/gen-values-schema.js           # rewrite the schema, docs/helm-values.md and the README table
//   node charts/gen-values-schema.js --check   # fail if any of them is stale
//
// Rules (also summarised at the top of values.yaml):
//   - Every mapping key outside a YAML sequence must have a comment right above it ("# -- text",
//     continued by further "# text" lines). The comment is the key's description.
//   - "# @schema {json}" lines add JSON-schema keywords to the key below. Keywords starting with
//     "$" steer the generator:
//       "$k8s": "<Type>"       a Kubernetes object copied verbatim into manifests; its keys (two
//                              levels deep, from the KUBERNETES_SHAPES table) are closed with
//                              additionalProperties: false, deeper levels are typed but open;
//       "$passthrough": true   a free-form map (labels, annotations, quantities): the other
//                              keywords (usually additionalProperties: {type}) describe its values;
//       "$extraProperties"     allowed keys that have no default in values.yaml.
//   - Any other object becomes {"type": "object", "additionalProperties": false, "properties": ...};
//     an empty object without "$passthrough" is an error (it would accept nothing).
//   - Every key gets "description" and "default" (its value in values.yaml).
'use strict';

const fs = require('fs');
const path = require('path');

const chartDir = path.join(__dirname, 'push');
const valuesPath = path.join(chartDir, 'values.yaml');
const schemaPath = path.join(chartDir, 'values.schema.json');
const repoDir = path.join(__dirname, '..');
const valuesDocPath = path.join(repoDir, 'docs', 'helm-values.md');
const readmePath = path.join(repoDir, 'README.md');
const README_BEGIN = '<!-- chart-values:begin -->';
const README_END = '<!-- chart-values:end -->';

function loadYamlLib() {
  const toolsModules = path.join(__dirname, '..', 'tools', 'node_modules');
  return require(require.resolve('js-yaml', { paths: [toolsModules, __dirname] }));
}

// Reads the comments of values.yaml: returns Map("a.b.c" -> {description, schema, line}).
function readKeyDocs(text, errors) {
  const docs = new Map();
  const stack = []; // {indent, key}
  let seqIndent = -1; // indent of the "- " items we are inside, -1 when none
  let comment = [];
  let annotation = {};
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.replace(/\s+$/, '');
    if (line.trim() === '') {
      comment = [];
      annotation = {};
      return;
    }
    const indent = line.length - line.trimStart().length;
    const trimmed = line.trim();
    if (trimmed.startsWith('#')) {
      const body = trimmed.replace(/^#\s?/, '');
      if (body.startsWith('@schema')) {
        try {
          Object.assign(annotation, JSON.parse(body.slice('@schema'.length).trim()));
        } catch (e) {
          errors.push(`values.yaml:${lineNo}: bad @schema JSON: ${e.message}`);
        }
      } else if (body.startsWith('-- ')) {
        comment = [body.slice(3).trim()];
      } else {
        comment.push(body.trim());
      }
      return;
    }
    if (seqIndent >= 0 && indent > seqIndent) {
      return; // inside a sequence item: data, not a documented key
    }
    seqIndent = -1;
    if (trimmed.startsWith('- ') || trimmed === '-') {
      seqIndent = indent;
      comment = [];
      annotation = {};
      return;
    }
    const match = /^([A-Za-z0-9_.\-]+):(\s|$)/.exec(trimmed);
    if (!match) {
      errors.push(`values.yaml:${lineNo}: cannot read this line as "key: value"`);
      return;
    }
    while (stack.length > 0 && stack[stack.length - 1].indent >= indent) {
      stack.pop();
    }
    const keyPath = [...stack.map((s) => s.key), match[1]].join('.');
    docs.set(keyPath, {
      description: comment.join(' ').trim(),
      schema: annotation,
      line: lineNo,
    });
    stack.push({ indent, key: match[1] });
    comment = [];
    annotation = {};
  });
  return docs;
}

// Kubernetes field names of the types values.yaml copies into manifests (core/v1, apps/v1,
// autoscaling/v2). A string or array is a JSON type; an object is a nested closed shape.
const intOrString = ['integer', 'string'];
const seLinuxOptions = { level: 'string', role: 'string', type: 'string', user: 'string' };
const profile = { type: 'string', localhostProfile: 'string' };
const windowsOptions = {
  gmsaCredentialSpec: 'string', gmsaCredentialSpecName: 'string', hostProcess: 'boolean', runAsUserName: 'string',
};
const scalingRules = {
  policies: 'array', selectPolicy: 'string', stabilizationWindowSeconds: 'integer', tolerance: intOrString,
};
const KUBERNETES_SHAPES = {
  Probe: {
    enabled: 'boolean', // the chart's own toggle, removed before rendering
    exec: { command: 'array' },
    grpc: { port: 'integer', service: 'string' },
    httpGet: { host: 'string', httpHeaders: 'array', path: 'string', port: intOrString, scheme: 'string' },
    tcpSocket: { host: 'string', port: intOrString },
    initialDelaySeconds: 'integer',
    periodSeconds: 'integer',
    timeoutSeconds: 'integer',
    successThreshold: 'integer',
    failureThreshold: 'integer',
    terminationGracePeriodSeconds: 'integer',
  },
  PodSecurityContext: {
    appArmorProfile: profile,
    fsGroup: 'integer',
    fsGroupChangePolicy: 'string',
    runAsGroup: 'integer',
    runAsNonRoot: 'boolean',
    runAsUser: 'integer',
    seLinuxChangePolicy: 'string',
    seLinuxOptions,
    seccompProfile: profile,
    supplementalGroups: 'array',
    supplementalGroupsPolicy: 'string',
    sysctls: 'array',
    windowsOptions,
  },
  SecurityContext: {
    allowPrivilegeEscalation: 'boolean',
    appArmorProfile: profile,
    capabilities: { add: 'array', drop: 'array' },
    privileged: 'boolean',
    procMount: 'string',
    readOnlyRootFilesystem: 'boolean',
    runAsGroup: 'integer',
    runAsNonRoot: 'boolean',
    runAsUser: 'integer',
    seLinuxOptions,
    seccompProfile: profile,
    windowsOptions,
  },
  DeploymentStrategy: { type: 'string', rollingUpdate: { maxSurge: intOrString, maxUnavailable: intOrString } },
  StatefulSetUpdateStrategy: { type: 'string', rollingUpdate: { maxUnavailable: intOrString, partition: 'integer' } },
  Affinity: { nodeAffinity: 'object', podAffinity: 'object', podAntiAffinity: 'object' },
  HorizontalPodAutoscalerBehavior: { scaleUp: scalingRules, scaleDown: scalingRules },
};

function buildKubernetesSchema(shape, value, keyPath, docs, errors) {
  const schema = { type: 'object', additionalProperties: false, properties: {} };
  for (const [key, spec] of Object.entries(shape)) {
    const childPath = `${keyPath}.${key}`;
    const childValue = value && typeof value === 'object' ? value[key] : undefined;
    const child = typeof spec === 'object' && !Array.isArray(spec)
      ? buildKubernetesSchema(spec, childValue, childPath, docs, errors)
      : { type: spec };
    const doc = docs.get(childPath);
    const described = { description: doc ? doc.description : `Kubernetes field ${key}.`, ...child };
    if (childValue !== undefined) described.default = childValue;
    schema.properties[key] = described;
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const key of Object.keys(value)) {
      if (!(key in shape)) {
        errors.push(`values.yaml: "${keyPath}.${key}" is not a field of the Kubernetes shape used for "${keyPath}"`);
      }
    }
  }
  return schema;
}

function typeOf(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (Number.isInteger(value)) return 'integer';
  return typeof value; // string, number, boolean, object
}

function buildSchema(value, keyPath, docs, errors) {
  const doc = docs.get(keyPath);
  if (!doc) {
    errors.push(`values.yaml: key "${keyPath}" was parsed but its line was not found`);
    return {};
  }
  const { $passthrough, $extraProperties, $k8s, ...keywords } = doc.schema;
  if ($k8s) {
    const shape = KUBERNETES_SHAPES[$k8s];
    if (!shape) {
      errors.push(`values.yaml:${doc.line}: unknown "$k8s" type "${$k8s}"`);
      return {};
    }
    const { type, ...rest } = buildKubernetesSchema(shape, value, keyPath, docs, errors);
    return { description: doc.description, type, ...rest, ...keywords, default: value };
  }
  const schema = { description: doc.description };
  const type = typeOf(value);
  if (type === 'null') {
    errors.push(`values.yaml:${doc.line}: key "${keyPath}" defaults to null; use 0 or "" (Helm drops null keys)`);
  }
  if (!('type' in keywords) && !('anyOf' in keywords) && !('const' in keywords)) {
    schema.type = type;
  }
  if (type === 'object' && !$passthrough) {
    const keys = Object.keys(value);
    if (keys.length === 0 && !$extraProperties) {
      errors.push(`values.yaml:${doc.line}: "${keyPath}" is an empty object without "$passthrough": nothing could be set`);
    }
    schema.additionalProperties = false;
    schema.properties = {};
    for (const key of keys) {
      schema.properties[key] = buildSchema(value[key], `${keyPath}.${key}`, docs, errors);
    }
    Object.assign(schema.properties, $extraProperties || {});
  } else if (type === 'array' && !('items' in keywords) && value.length > 0) {
    schema.items = { type: typeOf(value[0]) };
  }
  Object.assign(schema, keywords);
  schema.default = value;
  return schema;
}

function generate() {
  const yaml = loadYamlLib();
  const text = fs.readFileSync(valuesPath, 'utf8');
  const values = yaml.load(text);
  const errors = [];
  const docs = readKeyDocs(text, errors);
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Values of the push Helm chart',
    description: 'Generated by charts/gen-values-schema.js from the comments in values.yaml; do not edit by hand.',
    type: 'object',
    additionalProperties: false,
    properties: {},
  };
  for (const key of Object.keys(values)) {
    schema.properties[key] = buildSchema(values[key], key, docs, errors);
  }
  // Every documented line must correspond to a parsed key (catches parser drift).
  const parsedPaths = new Set();
  (function collect(value, prefix) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const key of Object.keys(value)) {
        const p = prefix ? `${prefix}.${key}` : key;
        parsedPaths.add(p);
        collect(value[key], p);
      }
    }
  })(values, '');
  for (const [keyPath, doc] of docs) {
    if (!doc.description) {
      errors.push(`values.yaml:${doc.line}: key "${keyPath}" has no comment`);
    }
    if (!parsedPaths.has(keyPath)) {
      errors.push(`values.yaml:${doc.line}: "${keyPath}" is not a key of the parsed values`);
    }
  }
  const valuesDoc = renderValuesDoc(values, docs);
  const readme = fillReadmeTable(fs.readFileSync(readmePath, 'utf8'), values, errors);
  return { json: JSON.stringify(schema, null, 2) + '\n', valuesDoc, readme, errors, keyCount: docs.size };
}

function valueAt(values, keyPath) {
  let v = values;
  for (const key of keyPath.split('.')) {
    if (!v || typeof v !== 'object' || Array.isArray(v) || !(key in v)) return undefined;
    v = v[key];
  }
  return v;
}

// A default as Markdown: `""` for an empty string, JSON for lists and maps, nothing for a section.
function formatDefault(value) {
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) return '';
  const text = typeof value === 'string' ? (value === '' ? '""' : value) : JSON.stringify(value);
  return '`' + text.replace(/\|/g, '\\|') + '`';
}

function renderValuesDoc(values, docs) {
  const lines = [
    '# Helm chart values',
    '',
    'Every key of `charts/push/values.yaml` with its default and description. Generated by',
    '`node charts/gen-values-schema.js` from the comments in values.yaml (do not edit by hand; `charts/validate.sh`',
    'fails when it is stale). Kubernetes objects copied into the manifests (probes, security contexts, strategies)',
    'accept the other fields of their Kubernetes type too; `values.schema.json` lists them.',
    '',
    '| key | default | description |',
    '|---|---|---|',
  ];
  for (const [keyPath, doc] of docs) {
    const description = doc.description.replace(/\|/g, '\\|');
    lines.push(`| \`${keyPath}\` | ${formatDefault(valueAt(values, keyPath))} | ${description} |`);
  }
  return lines.join('\n') + '\n';
}

// Rewrites the default column (the second) of the README's chart values table from values.yaml.
function fillReadmeTable(readme, values, errors) {
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin) {
    errors.push(`README.md: the chart values table markers ${README_BEGIN} ... ${README_END} are missing`);
    return readme;
  }
  const body = readme.slice(begin + README_BEGIN.length, end).split('\n').map((line) => {
    const m = /^\| `([A-Za-z0-9_.-]+)` \|[^|]*\|(.*)$/.exec(line);
    if (!m) return line;
    const value = valueAt(values, m[1]);
    if (value === undefined) {
      errors.push(`README.md: the chart values table lists "${m[1]}", which is not a key of values.yaml`);
      return line;
    }
    return `| \`${m[1]}\` | ${formatDefault(value)} |${m[2]}`;
  });
  return readme.slice(0, begin + README_BEGIN.length) + body.join('\n') + readme.slice(end);
}

function main() {
  const check = process.argv.includes('--check');
  const { json, valuesDoc, readme, errors, keyCount } = generate();
  if (errors.length > 0) {
    for (const e of errors) console.error(`error: ${e}`);
    process.exit(1);
  }
  const outputs = [[schemaPath, json], [valuesDocPath, valuesDoc], [readmePath, readme]];
  if (check) {
    const stale = outputs.filter(([file, text]) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '') !== text)
      .map(([file]) => path.relative(repoDir, file));
    if (stale.length > 0) {
      console.error(`error: ${stale.join(', ')} out of date with charts/push/values.yaml; run: node charts/gen-values-schema.js`);
      process.exit(1);
    }
    console.log(`values.schema.json, docs/helm-values.md and the README values table are up to date (${keyCount} documented keys)`);
  } else {
    for (const [file, text] of outputs) fs.writeFileSync(file, text);
    console.log(`wrote charts/push/values.schema.json, docs/helm-values.md and the README values table (${keyCount} documented keys)`);
  }
}

main();
