// A local HTTP proxy that adds `Authorization: Bearer <token>` to every request that has none, and
// forwards everything else unchanged (method, path, headers, body; responses streamed, server-sent
// events included). For MCP clients that cannot send a header of their own (the MCP conformance
// suite's server mode): cns serve requires a token on every request. A Host or Origin naming this
// proxy is rewritten to name the target (as a port forward would look to cns serve); any other Host
// or Origin (a DNS-rebinding probe's) reaches cns serve as it was sent, for cns to refuse.
//
//   node scripts/ci/bearer-proxy.mjs <target origin, e.g. http://127.0.0.1:4747>   (token: env CNS_TOKEN)
//
// Prints "listening on http://127.0.0.1:<port>" once ready; stops on SIGTERM/SIGINT.
import http from 'node:http';
import { URL } from 'node:url';

const target = new URL(process.argv[2] ?? '');
const token = process.env.CNS_TOKEN;
if (!token) {
  console.error('bearer-proxy: set CNS_TOKEN');
  process.exit(2);
}

let self = ''; // this proxy's host:port, once listening
const server = http.createServer((req, res) => {
  const headers = { ...req.headers };
  headers.authorization ??= `Bearer ${token}`;
  if (headers.host === self) headers.host = target.host;
  if (headers.origin === `http://${self}`) headers.origin = target.origin;
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.rawHeaders);
      answer.pipe(res);
    },
  );
  upstream.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`bearer-proxy: ${err.message}\n`);
  });
  // A client that goes away (a cancelled stream) closes the upstream request too.
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  self = `127.0.0.1:${port}`;
  console.log(`listening on http://127.0.0.1:${port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => server.close(() => process.exit(0)));
