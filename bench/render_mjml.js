// Times the official MJML compiler (npm `mjml`) on one MJML file, inside one node process.
//
// Usage: node bench/render_mjml.js SOURCE.mjml RUNS
// Prints one JSON object on stdout:
//   {"mjml": version, "node": version, "load_ms": n, "cold_ms": n, "runs_ms": [...],
//    "html_bytes": n, "html_sha256": hex, "html": the HTML itself}
// `mjml` is required once, RUNS untimed renders warm V8 up, then every call is timed with
// process.hrtime, so node's start-up and module loading are not part of the per-run
// figures (load_ms reports them apart).
// html_sha256 lets bench/render.py check that the command-line tool, run on the same file
// with the same options, produces exactly this HTML.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

// The options mirror what newsletter.render passes to mjml-python: no validation pass,
// no comments, no web fonts, no beautify or minify.
const OPTIONS = {
  validationLevel: 'skip',
  keepComments: false,
  fonts: {},
  beautify: false,
  minify: false,
};

function ms(start) {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function main() {
  const [sourcePath, runsArg] = process.argv.slice(2);
  const runs = Number.parseInt(runsArg, 10);
  if (!sourcePath || !(runs > 0)) {
    process.stderr.write('usage: node render_mjml.js SOURCE.mjml RUNS\n');
    process.exit(2);
  }
  const source = fs.readFileSync(sourcePath, 'utf8');

  const loadStart = process.hrtime.bigint();
  const mjml2html = require('mjml');
  const loadMs = ms(loadStart);
  const version = require(path.join(path.dirname(require.resolve('mjml')), '..', 'package.json'))
    .version;

  // mjml 5 returns a promise; awaiting it is part of the render.
  let start = process.hrtime.bigint();
  const first = await mjml2html(source, OPTIONS);
  const coldMs = ms(start);
  if (first.errors && first.errors.length) {
    process.stderr.write(`mjml reported errors: ${JSON.stringify(first.errors)}\n`);
  }

  // As many untimed renders again before timing: V8 optimises hot code only after many
  // calls, and the figures should be the official compiler at its best.
  for (let i = 0; i < runs; i += 1) {
    await mjml2html(source, OPTIONS);
  }
  const runsMs = [];
  for (let i = 0; i < runs; i += 1) {
    start = process.hrtime.bigint();
    await mjml2html(source, OPTIONS);
    runsMs.push(ms(start));
  }
  process.stdout.write(
    JSON.stringify({
      mjml: version,
      node: process.version,
      load_ms: loadMs,
      cold_ms: coldMs,
      runs_ms: runsMs,
      html_bytes: Buffer.byteLength(first.html, 'utf8'),
      html_sha256: crypto.createHash('sha256').update(first.html, 'utf8').digest('hex'),
      html: first.html,
    }) + '\n',
  );
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
