// A trivial SCIM upstream for benchmarks: fixed answers, no work, so the numbers measure the proxy.
import http from 'node:http';

const list = Buffer.from(
  JSON.stringify({
    schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
    totalResults: 1,
    Resources: [
      {
        id: 'u-1',
        userName: 'ada@contoso.example',
        active: true,
        displayName: 'Ada Lovelace',
        externalId: 'ada',
      },
    ],
  }),
);
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'POST') {
      const body = Buffer.concat(chunks);
      res.writeHead(201, { 'content-type': 'application/scim+json', 'content-length': body.length });
      res.end(body);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/scim+json', 'content-length': list.length });
    res.end(list);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
