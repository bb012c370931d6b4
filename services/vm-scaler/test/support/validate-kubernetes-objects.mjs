// Validates Kubernetes objects (a JSON array on stdin) against the OpenAPI schemas that
// kubernetes-models and @kubernetes-models/knative carry; prints one result per object as JSON.
// An ES module of its own: those packages are ESM-only and the tests run as CommonJS.
const GROUPS = {
  '': 'kubernetes-models/v1',
  apps: 'kubernetes-models/apps/v1',
  policy: 'kubernetes-models/policy/v1',
  'rbac.authorization.k8s.io': 'kubernetes-models/rbac.authorization.k8s.io/v1',
  'networking.k8s.io': 'kubernetes-models/networking.k8s.io/v1',
  'serving.knative.dev': '@kubernetes-models/knative/serving.knative.dev/v1',
};

async function modelOf(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const base = GROUPS[group];
  if (!base || !base.endsWith(`/${version}`)) return undefined;
  try {
    const module = await import(`${base}/${kind}`);
    return module[kind] && { Model: module[kind], schema: `${base}/${kind}` };
  } catch (err) {
    if (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return undefined;
    throw err;
  }
}

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const objects = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const results = [];
for (const object of objects) {
  const found = await modelOf(String(object.apiVersion), String(object.kind));
  if (!found) {
    results.push({ schema: null, errors: [] });
    continue;
  }
  try {
    new found.Model(object).validate();
    results.push({ schema: found.schema, errors: [] });
  } catch (err) {
    results.push({ schema: found.schema, errors: String(err.message).split(', ') });
  }
}
process.stdout.write(JSON.stringify(results));
