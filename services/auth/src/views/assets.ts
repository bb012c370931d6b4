/** The portal's only stylesheet and script, served from memory with a long cache lifetime. */

export const PORTAL_CSS = `
:root { --fg: #1b1f24; --muted: #57606a; --bg: #ffffff; --panel: #f6f8fa; --line: #d0d7de; --accent: #0b5cad; --accent-fg: #ffffff;
  --ok: #116329; --warn: #9a6700; --danger: #b42318; --prompt: #0b5cad; --completion: #e08a00; font-size: 100%; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", "Hiragino Sans", "Noto Sans JP", sans-serif; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f6b73c; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--fg); color: var(--bg); padding: .5rem 1rem; }
.skip:focus { left: 1rem; }
header.site { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem 2rem; padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); background: var(--panel); }
.brand { font-weight: 700; font-size: 1.15rem; text-decoration: none; color: var(--fg); }
header nav { display: flex; flex: 1; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 1rem; }
header nav ul { display: flex; gap: 1.25rem; list-style: none; margin: 0; padding: 0; }
header nav a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
.signout { display: flex; align-items: center; gap: .75rem; margin: 0; }
.who { font-size: .95rem; }
.muted, small { color: var(--muted); }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem; }
main:focus { outline: none; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .75rem; padding-bottom: .25rem; border-bottom: 1px solid var(--line); }
table { width: 100%; border-collapse: collapse; margin: .5rem 0 1rem; font-size: .95rem; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
thead th { background: var(--panel); font-weight: 600; }
tbody th { font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.progress-cell { white-space: nowrap; }
.progress-cell progress { width: 8rem; vertical-align: middle; margin-right: .5rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; background: var(--panel); padding: .1rem .3rem; border-radius: 4px; }
button, .button { white-space: nowrap; font: inherit; font-weight: 600; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-fg); padding: .45rem .9rem; border-radius: 6px; cursor: pointer; text-decoration: none; display: inline-block; }
button.secondary { background: var(--bg); color: var(--accent); }
button.danger { background: var(--bg); color: var(--danger); border-color: var(--danger); }
button:hover { filter: brightness(0.95); }
form { margin: 0; }
.actions { display: flex; gap: .5rem; }
.create-key, .chooser { display: flex; flex-wrap: wrap; align-items: flex-end; gap: 1rem; padding: 1rem; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; margin-bottom: 1rem; }
.field { display: flex; flex-direction: column; gap: .25rem; }
label { font-weight: 600; }
input, select { font: inherit; padding: .4rem .5rem; border: 1px solid #8c959f; border-radius: 6px; min-width: 16rem; background: var(--bg); color: var(--fg); }
.notice { padding: .75rem 1rem; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); }
.notice.ok { border-color: var(--ok); }
.notice.error { border-color: var(--danger); color: var(--danger); }
.ok { color: var(--ok); }
.warn { color: var(--warn); }
.secret { border: 2px solid var(--ok); border-radius: 8px; padding: 0 1rem 1rem; margin-bottom: 1.5rem; background: #f0fbf3; }
.secret h2 { border: 0; margin-top: 1rem; }
.copy-row { display: flex; gap: .5rem; }
.secret-value { flex: 1; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
figure.chart { margin: 0; }
figure.chart svg { width: 100%; height: auto; max-height: 18rem; }
figure.chart .grid { stroke: var(--line); stroke-width: 1; }
figure.chart .baseline { stroke: var(--muted); stroke-width: 1; }
figure.chart .axis { fill: var(--muted); font-size: 12px; }
figure.chart rect.prompt, .swatch.prompt { fill: var(--prompt); background: var(--prompt); }
figure.chart rect.completion, .swatch.completion { fill: var(--completion); background: var(--completion); }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .25rem; }
.swatch { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; vertical-align: -1px; }
details { margin-top: .75rem; }
summary { cursor: pointer; color: var(--accent); }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9da7b3; --bg: #0d1117; --panel: #161b22; --line: #30363d; --accent: #4493f8; --accent-fg: #0d1117; --prompt: #4493f8; --completion: #f0a020; }
  .secret { background: #0f2a18; }
}
`;

export const PORTAL_JS = `
'use strict';
document.addEventListener('click', function (e) {
  var button = e.target.closest && e.target.closest('[data-copy]');
  if (!button) return;
  var field = document.querySelector(button.getAttribute('data-copy'));
  if (!field) return;
  field.select();
  var done = function () { button.textContent = 'Copied'; setTimeout(function () { button.textContent = 'Copy'; }, 2000); };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand('copy'); done(); });
  else { document.execCommand('copy'); done(); }
});
document.addEventListener('submit', function (e) {
  var message = e.target.getAttribute && e.target.getAttribute('data-confirm');
  if (message && !window.confirm(message)) e.preventDefault();
});
document.addEventListener('DOMContentLoaded', function () {
  var target = document.querySelector('[data-autofocus]');
  if (target) target.focus();
});
`;
