import { loginHeadless, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { postForm } from './flows.ts';

/**
 * The browser's part for a server-side relying party: a cookie jar for the RP's origin and
 * manual redirects, so every hop (RP → Lanyard → IdP → Lanyard's ACS → RP callback) is seen.
 */
export class RpBrowser {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly rpOrigin: string) {}

  /** A request to the RP carrying its cookies; Set-Cookie answers are kept. */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (new URL(url).origin === this.rpOrigin && this.cookies.size > 0)
      headers.set('cookie', [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    if (new URL(url).origin === this.rpOrigin) {
      for (const line of response.headers.getSetCookie()) {
        const [pair = ''] = line.split(';');
        const eq = pair.indexOf('=');
        const name = pair.slice(0, eq).trim();
        const value = pair.slice(eq + 1).trim();
        if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || value === '') this.cookies.delete(name);
        else this.cookies.set(name, value);
      }
    }
    return response;
  }

  /**
   * From a response that sends the browser to Lanyard's authorize endpoint, through the IdP's
   * sign-in as `userId`, back to the RP's callback; returns the RP's answer to the callback.
   */
  async signInVia(toAuthorize: Response, idp: DevIdp, userId = 'ada@example.com'): Promise<{ authorizeUrl: URL; callback: Response }> {
    if (toAuthorize.status !== 302 && toAuthorize.status !== 303) throw new Error(`RP answered ${toAuthorize.status}: ${await toAuthorize.text()}`);
    const authorizeUrl = new URL(toAuthorize.headers.get('location')!);
    const atLanyard = await fetch(authorizeUrl, { redirect: 'manual' });
    if (atLanyard.status !== 302) throw new Error(`authorize answered ${atLanyard.status}: ${await atLanyard.text()}`);
    const form = await loginHeadless(idp, atLanyard.headers.get('location')!, userId);
    const acs = await postForm(form.action, form.fields);
    if (acs.status !== 303) throw new Error(`ACS answered ${acs.status}: ${await acs.text()}`);
    const back = acs.headers.get('location')!;
    if (new URL(back).origin !== this.rpOrigin) throw new Error(`sent back to ${back}, not to the RP`);
    return { authorizeUrl, callback: await this.fetch(back) };
  }
}
