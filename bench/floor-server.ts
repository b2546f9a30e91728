/**
 * The floor for refusing an upgrade in Node on this machine: a bare node:http server whose
 * 'upgrade' handler writes a prebuilt 403 and closes. No routing, no hooks, no logging, no JSON.
 * The flood benchmark measures its CPU per refusal next to the bridge's. Prints its port.
 */
import { createServer } from 'node:http';

const REFUSAL = Buffer.from('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
const server = createServer((_req, res) => res.writeHead(426).end());
server.on('upgrade', (_req, socket) => {
  socket.on('error', () => undefined);
  socket.end(REFUSAL);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
