/**
 * The headers every console response carries. The console shows untrusted text (callers' words,
 * numbers, tool arguments) next to an API token, so the page may run only its own files:
 *
 * - Content-Security-Policy: nothing by default; scripts, styles, images and worklets from this
 *   origin only (no inline script or style, no eval); fetches and WebSockets to this origin and to
 *   PUBLIC_URL's WebSocket origin (the softphone's stream URL, when the console is opened under
 *   another name); no frames, forms, plugins or <base>; and Trusted Types with no policy, so an
 *   `innerHTML = string` the code should never contain fails in the browser instead of running.
 * - X-Content-Type-Options nosniff, Referrer-Policy no-referrer, X-Frame-Options DENY (for
 *   browsers without frame-ancestors), COOP/CORP same-origin, and a Permissions-Policy that allows
 *   the microphone to this origin only and nothing else the page does not use.
 */
import { publicWsBase, type Config } from '../config.js';

/** The WebSocket origin of PUBLIC_URL (`wss://voice.example.com`), without path. */
function wsOrigin(publicUrl: string): string {
  const url = new URL(publicWsBase({ publicUrl }));
  return `${url.protocol}//${url.host}`;
}

export function contentSecurityPolicy(config: Pick<Config, 'publicUrl'>): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "worker-src 'self'",
    `connect-src 'self' ${wsOrigin(config.publicUrl)}`,
    "media-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join('; ');
}

export function consoleHeaders(config: Pick<Config, 'publicUrl'>): Readonly<Record<string, string>> {
  return Object.freeze({
    'content-security-policy': contentSecurityPolicy(config),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'microphone=(self), camera=(), geolocation=(), payment=(), usb=()',
  });
}
