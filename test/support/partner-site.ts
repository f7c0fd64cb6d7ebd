import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A partner's web site on 127.0.0.1: answers every request 200 "ok", so a
 * real browser redirected (or posting a form_post response) to the partner's
 * redirect URL has a page to load.
 */
export interface PartnerSite {
  /** http://127.0.0.1:<port> */
  origin: string;
  /** Paths (with query) the site was asked for, in order. */
  visits: string[];
  /** Form bodies posted to the site, with the path they were posted to. */
  posts: { path: string; body: URLSearchParams }[];
  close(): Promise<void>;
}

export async function startPartnerSite(): Promise<PartnerSite> {
  const visits: string[] = [];
  const posts: PartnerSite['posts'] = [];
  const server = createServer(async (request, response) => {
    visits.push(request.url ?? '');
    if (request.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      posts.push({ path: request.url ?? '', body: new URLSearchParams(Buffer.concat(chunks).toString('utf8')) });
    }
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    response.end('ok');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    visits,
    posts,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
