// Loaded with `node --import` before the conformance harness, which has no option for
// request headers: every request it sends to MCP_TRAY_ORIGIN carries
// `Authorization: Bearer $MCP_TRAY_TOKEN`, the header `mcp-tray connect --http` writes
// into an app's config. The harness sends through fetch and through undici's request.
import { createRequire } from "node:module";

const origin = process.env.MCP_TRAY_ORIGIN;
const authorization = `Bearer ${process.env.MCP_TRAY_TOKEN}`;

const ours = (url) => new URL(String(url instanceof Request ? url.url : url)).origin === origin;

const fetched = globalThis.fetch;
globalThis.fetch = (url, init = {}) => {
    if (!ours(url)) return fetched(url, init);
    const headers = new Headers(init.headers ?? (url instanceof Request ? url.headers : undefined));
    if (!headers.has("authorization")) headers.set("authorization", authorization);
    return fetched(url, { ...init, headers });
};

// The harness imports undici (CommonJS) after this runs, so its named import reads the
// patched property. process.argv[1] is the harness's entry point, beside its node_modules.
const undici = createRequire(process.argv[1])("undici");
const requested = undici.request;
undici.request = (url, options = {}) => {
    if (!ours(url)) return requested(url, options);
    const headers = { ...options.headers };
    if (!Object.keys(headers).some((name) => name.toLowerCase() === "authorization")) {
        headers.authorization = authorization;
    }
    return requested(url, { ...options, headers });
};
