import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieBrowser, field, text } from '../support/browser.ts';
import { passwordVerifications } from '../support/metrics.ts';
import { eventually } from '../support/notices.ts';
import { describeWithRedis, testRedisUrl } from '../support/redis.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * The login throttle under concurrency (README, security notes): an attempt
 * is reserved before its password is checked, so however many guesses
 * arrive at once, at most the per-account and per-address limits of them are
 * evaluated in a window; an IPv6 client counts per /64; counts are swept
 * when their window ends.
 */

type Owner = Awaited<ReturnType<TestServer['createOwner']>>;

/** A dashboard login form, ready to be posted many times at once (one browser, one CSRF token). */
async function loginForm(server: TestServer) {
  const browser = new CookieBrowser(server.url);
  const token = field(await (await browser.get('/login')).text(), '_csrf') ?? '';
  const cookie = browser.cookieHeader();
  return (email: string, password: string, from?: string) =>
    fetch(`${server.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...(from ? { 'x-forwarded-for': from } : {}) },
      body: new URLSearchParams({ _csrf: token, email, password }),
    });
}

/** 303 signed in, 401 wrong password: both mean the password was evaluated. 429: refused before that. */
function tally(responses: Response[]) {
  const statuses = responses.map((response) => response.status);
  expect(statuses.every((status) => [303, 401, 429].includes(status)), statuses.join(',')).toBe(true);
  return { evaluated: statuses.filter((status) => status !== 429).length, refused: statuses.filter((status) => status === 429).length };
}

function expectRetryAfter(response: Response): void {
  expect(response.status).toBe(429);
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
}

/** Starts the guesses, then sends the right password as soon as one guess has been refused. */
async function guessesThenTheRightPassword(post: () => Promise<Response>[], right: () => Promise<Response>) {
  let limitHit: () => void = () => {};
  const refusal = new Promise<void>((resolve) => (limitHit = resolve));
  const guesses = post().map(async (pending) => {
    const response = await pending;
    if (response.status === 429) limitHit();
    return response;
  });
  await Promise.race([refusal, Promise.all(guesses)]);
  const last = right();
  return { guesses: await Promise.all(guesses), last: await last };
}

/** Rows in the database's throttling table. */
async function countedSubjects(server: TestServer): Promise<number> {
  const row = (await server.db('rate_limits').count({ n: '*' }).first()) as { n: string | number };
  return Number(row.n);
}

/** Random addresses from the benchmarking range (RFC 2544), so runs sharing a counter store never meet. */
function addresses(count: number): string[] {
  const base = randomBytes(2);
  return Array.from({ length: count }, (_, index) => `198.${18 + (base[0]! % 2)}.${base[1]}.${index + 1}`);
}

describe('concurrent guesses at one account', () => {
  let server: TestServer;
  let owner: Owner;

  beforeAll(async () => {
    server = await startTestServer();
    owner = await server.createOwner();
  });

  afterAll(() => server?.close());

  it('40 at once from one address: at most 5 are evaluated, and the right password sent last does not sign in', async () => {
    const post = await loginForm(server);
    const before = await passwordVerifications(server.url);
    const { guesses, last } = await guessesThenTheRightPassword(
      () => Array.from({ length: 39 }, (_, index) => post(owner.account.email, `wrong guess number ${index}`)),
      () => post(owner.account.email, owner.password),
    );
    const { evaluated } = tally([...guesses, last]);
    expect(evaluated).toBeLessThanOrEqual(5);
    expect((await passwordVerifications(server.url)) - before).toBe(evaluated);
    expectRetryAfter(last);
    expect(text(await last.text())).toMatch(/Try again in \d+ seconds?/);
    expect(last.headers.getSetCookie().some((cookie) => cookie.startsWith('appgrant.owner='))).toBe(false);
  });
});

describe('concurrent guesses from many addresses', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ TRUST_PROXY: 'true' });
  });

  afterAll(() => server?.close());

  it('200 at once from 50 addresses: at most 5 per account are evaluated', async () => {
    const owner = await server.createOwner();
    const post = await loginForm(server);
    const from = addresses(50);
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, index) => post(owner.account.email, `wrong guess number ${index}`, from[index % 50])),
    );
    const { evaluated, refused } = tally(responses);
    expect(evaluated).toBeLessThanOrEqual(5);
    expect(refused).toBeGreaterThanOrEqual(195);
    expectRetryAfter(responses.find((response) => response.status === 429)!);
    // The right password, from an address that never guessed, is refused too: the account's window is spent.
    expectRetryAfter(await post(owner.account.email, owner.password, addresses(1)[0]));
  });

  it('a correct password is not counted, and does not wipe the failures before it', async () => {
    const owner = await server.createOwner();
    const post = await loginForm(server);
    const [address] = addresses(1);
    for (let guess = 0; guess < 4; guess += 1) expect((await post(owner.account.email, `wrong ${guess}`, address)).status).toBe(401);
    for (let login = 0; login < 3; login += 1) expect((await post(owner.account.email, owner.password, address)).status).toBe(303);
    expect((await post(owner.account.email, 'wrong again', address)).status).toBe(401);
    expectRetryAfter(await post(owner.account.email, owner.password, address));
  });
});

describe('IPv6 clients', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ TRUST_PROXY: 'true', LOGIN_MAX_FAILURES_PER_IP: '3', LOGIN_MAX_FAILURES_PER_ACCOUNT: '100' });
  });

  afterAll(() => server?.close());

  it('are counted per /64: new addresses in the same /64 do not buy new guesses', async () => {
    const post = await loginForm(server);
    const [site, subnet] = [randomBytes(2).readUInt16BE(), randomBytes(2).readUInt16BE()];
    const network = `2001:db8:${site.toString(16)}:${subnet.toString(16)}`;
    for (const host of ['::1', ':a:b:c:d', ':ffff:0:0:1']) {
      expect((await post(`someone${host.replaceAll(':', '-')}@example.com`, 'a wrong guess', `${network}${host}`)).status).toBe(401);
    }
    expectRetryAfter(await post('someone-else@example.com', 'a wrong guess', `${network}::2`));
    // The neighbouring /64 is another network.
    const neighbour = `2001:db8:${site.toString(16)}:${(subnet ^ 1).toString(16)}::1`;
    expect((await post('someone-else@example.com', 'a wrong guess', neighbour)).status).toBe(401);
  });
});

describe('the end of a window', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '2', LOGIN_FAILURE_WINDOW: '1' });
  });

  afterAll(() => server?.close());

  it('sweeps the counts and lets the owner in again', async () => {
    const owner = await server.createOwner();
    const post = await loginForm(server);
    const attempts = await Promise.all(Array.from({ length: 6 }, (_, index) => post(owner.account.email, `wrong ${index}`)));
    expect(tally(attempts).evaluated).toBeLessThanOrEqual(2);
    expect(await countedSubjects(server)).toBeGreaterThan(0);
    await eventually(async () => (await countedSubjects(server)) === 0, 10_000, 'the counts to be swept');
    expect((await post(owner.account.email, owner.password)).status).toBe(303);
  });
});

describeWithRedis('with Redis as the counter store', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ REDIS_URL: testRedisUrl, TRUST_PROXY: 'true' });
  });

  afterAll(() => server?.close());

  it('40 at once from one address: at most 5 are evaluated', async () => {
    const owner = await server.createOwner();
    const post = await loginForm(server);
    const [address] = addresses(1);
    const { guesses, last } = await guessesThenTheRightPassword(
      () => Array.from({ length: 39 }, (_, index) => post(owner.account.email, `wrong guess number ${index}`, address)),
      () => post(owner.account.email, owner.password, address),
    );
    expect(tally([...guesses, last]).evaluated).toBeLessThanOrEqual(5);
    expectRetryAfter(last);
    // Nothing of it went to the database.
    expect(await countedSubjects(server)).toBe(0);
  });
});
