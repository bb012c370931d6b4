#!/usr/bin/env node
'use strict';
// The image's HEALTHCHECK: exit 0 when GET /health of this container's service answers 2xx within 4 s.
// The URL is the first argument, else HEALTHCHECK_URL, else 127.0.0.1 on the port of MAAS_SERVICE
// (its <SERVICE>_PORT, else the service's default port).
const path = require('node:path');

function healthUrl() {
  const given = process.argv[2] || process.env.HEALTHCHECK_URL;
  if (given) return given;
  const service = process.env.MAAS_SERVICE;
  const { DEFAULT_PORTS, portVariable } = require(
    path.join(__dirname, '..', '..', 'dist', 'libs', 'platform', 'src', 'service-definition.js'),
  );
  if (!service || !(service in DEFAULT_PORTS)) throw new Error(`MAAS_SERVICE is ${JSON.stringify(service)}: set HEALTHCHECK_URL`);
  return `http://127.0.0.1:${process.env[portVariable(service)] || DEFAULT_PORTS[service]}/health`;
}

let url;
try {
  url = healthUrl();
} catch (err) {
  process.stderr.write(`healthcheck: ${err.message}\n`);
  process.exit(1);
}
fetch(url, { signal: AbortSignal.timeout(4000) }).then(
  (res) => {
    if (!res.ok) process.stderr.write(`healthcheck: ${url} answered ${res.status}\n`);
    process.exit(res.ok ? 0 : 1);
  },
  (err) => {
    process.stderr.write(`healthcheck: ${url}: ${err.message}\n`);
    process.exit(1);
  },
);
