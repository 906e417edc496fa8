// Builds the dashboard: src/main.jsx and its imports into one minified
// app-<hash>.js, src/style.css and uPlot's CSS into app-<hash>.css, an
// index.html naming them. Fails when the whole app, gzip-compressed (as the
// server sends it), is over the budget of 300 KB (issue 20). Prints the
// sizes as JSON.
//
//   node web/build.mjs --out build/web
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const out = args[args.indexOf("--out") + 1];
if (!out || args.indexOf("--out") < 0) {
  console.error("usage: node build.mjs --out DIR");
  process.exit(2);
}
const BUDGET = 300 * 1024;

const bundle = await build({
  entryPoints: [join(here, "src/main.jsx")],
  bundle: true,
  minify: true,
  write: false,
  format: "esm",
  target: ["chrome100", "firefox100", "safari15"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  logLevel: "warning",
});
const css = readFileSync(join(here, "node_modules/uplot/dist/uPlot.min.css"), "utf8") + "\n" +
  readFileSync(join(here, "src/style.css"), "utf8");
const minCss = await build({
  stdin: { contents: css, loader: "css" },
  minify: true,
  write: false,
  logLevel: "warning",
});

const hash = (text) => createHash("sha256").update(text).digest("hex").slice(0, 10).toUpperCase();
const js = bundle.outputFiles[0].text;
const cssText = minCss.outputFiles[0].text;
const jsName = `app-${hash(js)}.js`, cssName = `app-${hash(cssText)}.css`;
const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>gridlet</title>
<link rel="stylesheet" href="/${cssName}">
<script type="module" src="/${jsName}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The gridlet dashboard needs JavaScript.</noscript>
</body>
</html>
`;

// Only what an earlier build wrote goes: the folder may hold other files.
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out))
  if (/^(index\.html|app-[0-9A-F]+\.(js|css))(\.gz)?$/.test(f)) rmSync(join(out, f), { force: true });
const sizes = {};
let total = 0;
for (const [name, text] of [["index.html", html], [jsName, js], [cssName, cssText]]) {
  const gz = gzipSync(Buffer.from(text), { level: 9 });
  writeFileSync(join(out, name), text);
  sizes[name] = { bytes: Buffer.byteLength(text), gzip_bytes: gz.length };
  total += gz.length;
}
console.log(JSON.stringify({ out, files: sizes, gzip_total_bytes: total, budget_bytes: BUDGET }));
if (total > BUDGET) {
  console.error(`the dashboard is ${total} bytes compressed: over its budget of ${BUDGET} (issue 20)`);
  process.exit(1);
}
