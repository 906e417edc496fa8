// Validates an OpenAPI 3 document: its structure against the OpenAPI
// schema and every $ref, with swagger-parser; then gridlet's own rules:
// every operation has an operationId, a summary and a 2xx answer, and every
// route the server registers (read from the handlers' sources, the
// s.Get/Post/Put/Delete calls of runtime/http/api_*.cpp, when their folder
// is given) is described, and every described one is served.
// Exit 0 valid, 1 not (the reasons on stderr).
import SwaggerParser from "@apidevtools/swagger-parser";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate.mjs openapi.json [runtime/http]");
  process.exit(2);
}
const problems = [];
let api;
try {
  api = await SwaggerParser.validate(JSON.parse(readFileSync(file, "utf8")));
} catch (e) {
  console.error(`${file}: not a valid OpenAPI document: ${e.message}`);
  process.exit(1);
}
if (!String(api.openapi).startsWith("3.")) problems.push(`openapi is ${api.openapi}, not 3.x`);
const described = new Set();
for (const [path, item] of Object.entries(api.paths)) {
  for (const method of ["get", "post", "put", "delete", "patch"]) {
    const op = item[method];
    if (!op) continue;
    described.add(`${method.toUpperCase()} ${path}`);
    const where = `${method.toUpperCase()} ${path}`;
    if (!op.operationId) problems.push(`${where}: no operationId`);
    if (!op.summary) problems.push(`${where}: no summary`);
    if (!Object.keys(op.responses || {}).some((c) => c.startsWith("2"))) problems.push(`${where}: no 2xx answer`);
  }
}
// "GET /alarms/{}/acknowledge": a route with its parameters unnamed.
const shape = (route) => route.replace(/\{[^}]*\}/g, "{}");
if (process.argv[3]) {
  const served = new Set();
  const call = /\bs\.(Get|Post|Put|Delete)\(\s*(?:R"\(|")(\/api\/v1[^"]*?)\)?"/g;
  for (const f of readdirSync(process.argv[3]).filter((n) => /^api_.*\.cpp$/.test(n))) {
    for (const m of readFileSync(join(process.argv[3], f), "utf8").matchAll(call)) {
      const path = m[2].replace(/^\/api\/v1/, "").replace(/\((?:\[\^\/\]\+|\\d\+)\)/g, "{}");
      served.add(`${m[1].toUpperCase()} ${path}`);
    }
  }
  const doc = new Set([...described].map(shape));
  for (const r of served) if (!doc.has(r)) problems.push(`${r}: served but not in the document`);
  for (const r of doc) if (!served.has(r)) problems.push(`${r}: in the document but not served`);
  if (served.size === 0) problems.push(`no route found in ${process.argv[3]}/api_*.cpp`);
}
for (const p of problems) console.error(`${file}: ${p}`);
console.log(`${file}: ${described.size} operations, ${problems.length} problem(s)`);
process.exit(problems.length ? 1 : 0);
