/**
 * Everything the simulator and the mdx provider assume about the mdx REST API beyond the facts in
 * MDX-API.md (the public client's calls, paths, bodies, the `JWT` scheme, the states). Each of these
 * is a guess to check against the real API; nothing else in either relies on an unlisted behaviour.
 */
export const MDX_ASSUMPTIONS = [
  'Tokens are djangorestframework-jwt HS256 JWTs whose payload carries `exp` (seconds since the epoch); the provider reads `exp` to refresh ahead of expiry.',
  'An expired token is answered 401 and cannot be refreshed (POST /api/refresh/ answers 400); only a new login (username and password) recovers.',
  'A refused login or refresh is 400 with `{"non_field_errors": [...]}`; other errors carry `{"detail": "..."}`.',
  'The project listing is Django REST framework paging: `{count, next, previous, results}`, page_size at most 100, a page past the end is 404.',
  'A listed or fetched VM carries its id as `uuid` besides the documented fields.',
  'While power_on is under way the VM stays PowerOFF until the guest is up, then PowerON (no intermediate status is reported).',
  'power_on of a VM that is not PowerOFF, shutdown of one that is not PowerON, or any call while another operation on it is under way, is 400 with `detail`.',
  'A failed boot either stays PowerOFF (the power-on task failed) or reaches PowerON with a guest that never starts its worker and ignores an ACPI shutdown.',
  'A guest shutdown stops the systemd unit of the VM template (SIGTERM to `maas worker`, which drains) and powers off once it has exited or after the stop timeout of that unit.',
  'The catalogue lists entries with `id` and `template_name`; the `catalog` of a deploy is such an `id`. A deploy answers 202 `{task_id}` and the new VM appears in the project listing at once, by its `vm_name`, as Deploying, then PowerOFF (or booting, with power_on).',
  'Deploy field errors are 400 with `{"<field>": ["..."]}` (Django REST framework); a vm_name already in use is refused.',
  'Rate limits are answered 429 with a Retry-After header in seconds.',
  'The VM template passes the VM id to the worker (MAAS_VM_ID, --vm-id), so the provider matches registrations to VMs by that id.',
] as const;
