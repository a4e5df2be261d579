import { describe, it, expect, beforeAll } from 'vitest';
import http from 'node:http';
import { startTestService, type TestService } from '../helpers/service.js';

// issue 18 item 11: Host check against DNS rebinding, security headers, a limit on wrong tokens
let svc: TestService;

/** A GET with the Host header we choose (fetch does not let one set it). */
function getWithHost(url: string, path: string, host: string | null): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, headers: host === null ? {} : { host }, setHost: host !== null }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('service hardening', () => {
  beforeAll(async () => {
    svc = await startTestService();
  }, 240_000);

  it('answers only requests that name it in their Host header', async () => {
    const port = new URL(svc.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `review.localhost:${port}`]) {
      expect((await getWithHost(svc.url, '/api/health', host)).status, host).toBe(200);
    }
    for (const host of [`rebind.attacker.example:${port}`, `10.1.2.3:${port}`]) {
      const r = await getWithHost(svc.url, '/api/export.csv', host);
      expect(r.status, host).toBe(403);
      expect(JSON.parse(r.body).error).toMatch(/is not this service's .*--allow-host NAME adds a name/);
    }
    // no Host at all: Node refuses it (HTTP/1.1 requires one)
    expect((await getWithHost(svc.url, '/api/export.csv', null)).status).toBe(400);
    const named = await svc.another({ allowedHosts: ['whales.lab.example'] });
    expect((await getWithHost(named, '/api/health', `whales.lab.example:${new URL(named).port}`)).status).toBe(200);
  });

  it('sends X-Frame-Options, nosniff and a Content-Security-Policy', async () => {
    for (const p of ['/', '/app.js', '/api/health']) {
      const res = await fetch(`${svc.url}${p}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toMatch(/default-src 'self'/);
      expect(csp).toMatch(/script-src 'self'/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(csp).not.toMatch(/upgrade-insecure-requests/);
    }
  });

  it('limits wrong tokens per client, even the right one then, and counts no missing token', async () => {
    const url = await svc.another({ tokenAttempts: { attempts: 3, windowMs: 60_000 } });
    const post = (authorization?: string): Promise<Response> => fetch(`${url}/api/individuals`, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body: JSON.stringify({ name: `Limit${Math.random()}` }) });
    for (let i = 0; i < 5; i++) expect((await post()).status).toBe(401); // no token: no guess
    for (let i = 0; i < 3; i++) expect((await post(`Bearer wrong-token-${i}`)).status).toBe(401);
    const blocked = await post(`Bearer ${svc.token}`);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await blocked.json()) as { error: string }).error).toMatch(/^too many wrong tokens from this address: try again in \d+ s$/);
    // reads stay open, and another service (its own counter) still takes the token
    expect((await fetch(`${url}/api/individuals`)).status).toBe(200);
    expect((await fetch(`${svc.url}/api/individuals`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.token}` }, body: JSON.stringify({ name: 'Unlimited' }) })).status).toBe(200);
  });
});
