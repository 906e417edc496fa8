// The public HTTP API (/api/v1), as a browser session uses it: the session
// cookie (HttpOnly, set by POST /login) and the X-CSRF-Token of the session
// on every change. Errors are ApiError with the API's stable code.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let csrf = "";
let onUnauthorized = () => {};

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export function setCsrf(token) {
  csrf = token || "";
}

// `body`: JSON, or a Blob/File sent as it is with its own type (an image).
export async function api(method, path, body) {
  const headers = {};
  let payload;
  if (method !== "GET") {
    headers["X-CSRF-Token"] = csrf;
    if (body instanceof Blob) {
      headers["Content-Type"] = body.type || "application/octet-stream";
      payload = body;
    } else {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body ?? {});
    }
  }
  let r;
  try {
    r = await fetch("/api/v1" + path, { method, headers, body: payload, credentials: "same-origin" });
  } catch (e) {
    throw new ApiError(0, "unreachable", "the gateway does not answer (" + e.message + ")");
  }
  if (!r.ok) {
    let e = {};
    try {
      e = (await r.json()).error || {};
    } catch {
      // not JSON: the status says it
    }
    const err = new ApiError(r.status, e.code || "http_" + r.status, e.message || r.statusText);
    if (r.status === 401 && !path.startsWith("/login")) onUnauthorized(err);
    throw err;
  }
  const type = r.headers.get("Content-Type") || "";
  return type.includes("application/json") ? r.json() : r.text();
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);

// Query parameters, leaving out the empty ones.
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? "?" + s : "";
}
