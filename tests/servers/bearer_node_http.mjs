// bearer.mjs, and the same header on what the harness sends through node:http's
// request, as its header-validation scenarios do (to send headers fetch would fix).
import "./bearer.mjs";
import http from "node:http";

const origin = new URL(process.env.MCP_TRAY_ORIGIN);
const authorization = `Bearer ${process.env.MCP_TRAY_TOKEN}`;

const requested = http.request;
http.request = (options, ...rest) => {
    const ours =
        typeof options === "object" &&
        !(options instanceof URL) &&
        String(options.hostname) === origin.hostname &&
        String(options.port) === origin.port;
    if (!ours) return requested(options, ...rest);
    const headers = { ...options.headers };
    if (!Object.keys(headers).some((name) => name.toLowerCase() === "authorization")) {
        headers.authorization = authorization;
    }
    return requested({ ...options, headers }, ...rest);
};
