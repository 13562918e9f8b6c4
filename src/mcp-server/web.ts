// fetch_url and read_rss_feed: http(s) only, a size cap on what is read, a timeout,
// HTML reduced to text, RSS 2.0 and Atom parsed with fast-xml-parser. Addresses on
// this machine or the local network (router pages, other services, cloud metadata)
// are the policy's business (see privateAddress); a redirect may never lead there.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { ToolInputError } from './tool-error.ts';

export const FETCH_MAX_BYTES = 2 * 1024 * 1024;
export const FETCH_MAX_TEXT = 40_000;
const FETCH_TIMEOUT_MS = 20_000;
const MAX_REDIRECTS = 5;

const PRIVATE = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16], ['224.0.0.0', 3]] as const) PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 127], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) PRIVATE.addSubnet(net, bits, 'ipv6');

function isPrivateIp(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return PRIVATE.check(mapped, 'ipv4');
  return PRIVATE.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The private address a URL's host stands for (loopback, private network, link-local),
 * or undefined for a public one. A host that does not resolve counts as public: the
 * fetch will fail on its own.
 */
export async function privateAddress(url: string): Promise<string | undefined> {
  let parsed: URL;
  try { parsed = new URL(url); } catch { return undefined; }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return isPrivateIp(host) ? host : undefined;
  try {
    const addresses = await lookup(host, { all: true });
    return addresses.find((a) => isPrivateIp(a.address))?.address;
  } catch {
    return undefined;
  }
}

async function fetchCapped(url: string, accept: string): Promise<{ body: string; contentType: string; truncated: boolean; finalUrl: string }> {
  let current: URL;
  try { current = new URL(url); } catch { throw new ToolInputError(`url: not a valid URL: ${url}`); }
  const startsPrivate = (await privateAddress(current.href)) !== undefined;
  const signal = AbortSignal.timeout(FETCH_TIMEOUT_MS);
  let response: Response;
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') throw new ToolInputError(`url: only http and https URLs can be fetched, not ${current.protocol}`);
    // Redirects are followed here, one by one, so none can lead from a public page into the local network.
    if (hop > 0 && !startsPrivate) {
      const address = await privateAddress(current.href);
      if (address) throw new ToolInputError(`${url} redirected to ${current.href}, an address on this machine or the local network (${address}); refused. Fetch that URL directly if the owner should approve it.`);
    }
    try {
      response = await fetch(current, { headers: { accept, 'user-agent': 'Lares/0.1 (+self-hosted agent)' }, redirect: 'manual', signal });
    } catch (error) {
      throw new ToolInputError(`could not fetch ${url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) break;
    await response.body?.cancel();
    if (hop >= MAX_REDIRECTS) throw new ToolInputError(`fetching ${url} failed: more than ${MAX_REDIRECTS} redirects`);
    try { current = new URL(location, current); } catch { throw new ToolInputError(`fetching ${url} failed: a redirect to an invalid URL (${location})`); }
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new ToolInputError(`fetching ${url} failed: HTTP ${response.status} ${response.statusText}`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0; let truncated = false;
  if (response.body) {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total + value.length > FETCH_MAX_BYTES) {
        chunks.push(value.subarray(0, FETCH_MAX_BYTES - total)); truncated = true;
        await reader.cancel();
        break;
      }
      chunks.push(value); total += value.length;
    }
  }
  return { body: Buffer.concat(chunks).toString('utf8'), contentType: response.headers.get('content-type') ?? '', truncated, finalUrl: current.href };
}

export async function fetchUrlTool(args: { url: string; max_chars?: number }): Promise<string> {
  const { body, contentType, truncated, finalUrl } = await fetchCapped(args.url, 'text/html,text/plain,application/xhtml+xml,*/*;q=0.5');
  const isHtml = /html|xml/.test(contentType) || /^\s*<(!doctype|html)/i.test(body);
  const text = isHtml ? htmlToText(body) : body;
  const limit = Math.min(args.max_chars ?? FETCH_MAX_TEXT, FETCH_MAX_TEXT);
  const clipped = text.length > limit ? `${text.slice(0, limit)}\n[truncated at ${limit} characters]` : text;
  return `${finalUrl} (${contentType || 'unknown type'})${truncated ? ` [download stopped at ${FETCH_MAX_BYTES} bytes]` : ''}\n\n${clipped}`;
}

const SKIPPED_ELEMENTS = new Set(['script', 'style', 'noscript', 'template', 'svg', 'head']);
const BLOCK_ELEMENTS = new Set(['p', 'div', 'section', 'article', 'li', 'tr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'ul', 'ol', 'table', 'header', 'footer']);
const closingTags = new Map<string, RegExp>();

/**
 * HTML reduced to readable text in one left-to-right pass (linear time: a page is
 * untrusted, and regular expressions over it backtrack quadratically on input like
 * thousands of unclosed `<` or `<!--`). An element that is never closed (a comment,
 * a script) ends the document, as in a browser.
 */
export function htmlToText(html: string): string {
  const out: string[] = [];
  let title: string | undefined;
  let pos = 0;
  while (pos < html.length) {
    const lt = html.indexOf('<', pos);
    if (lt < 0) { out.push(html.slice(pos)); break; }
    out.push(html.slice(pos, lt));
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      if (end < 0) break;
      pos = end + 3;
      continue;
    }
    const next = html[lt + 1] ?? '';
    if (!/[A-Za-z/!?]/.test(next)) { out.push('<'); pos = lt + 1; continue; }
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) { out.push(html.slice(lt)); break; }
    pos = gt + 1;
    const closing = next === '/';
    const name = /^[A-Za-z][A-Za-z0-9-]*/.exec(html.slice(lt + (closing ? 2 : 1), Math.min(gt, lt + 40)))?.[0]?.toLowerCase();
    if (!name) continue;
    if (closing) { if (BLOCK_ELEMENTS.has(name)) out.push('\n'); continue; }
    if (name === 'br') { out.push('\n'); continue; }
    if (name === 'li') { out.push('- '); continue; }
    const selfClosing = html[gt - 1] === '/';
    if ((name === 'title' || SKIPPED_ELEMENTS.has(name)) && !selfClosing) {
      const end = closingTag(name);
      end.lastIndex = pos;
      const match = end.exec(html);
      if (!match) break;
      if (name === 'title') title ??= html.slice(pos, match.index);
      // The title usually sits in <head>: look for it there before skipping the head.
      if (name === 'head' && title === undefined) title = htmlTitle(html.slice(pos, match.index));
      pos = match.index + match[0].length;
    }
  }
  const text = decodeEntities(out.join(''))
    .split('\n').map((line) => line.replace(/[ \t\f\v\u00a0]+/g, ' ').trim()).join('\n')
    .replace(/\n{3,}/g, '\n\n').trim();
  const heading = title === undefined ? '' : decodeEntities(title).replace(/\s+/g, ' ').trim();
  return heading ? `${heading}\n\n${text}` : text;
}

function htmlTitle(head: string): string | undefined {
  let pos = 0;
  for (;;) {
    const lt = head.indexOf('<', pos);
    if (lt < 0) return undefined;
    const gt = head.indexOf('>', lt + 1);
    if (gt < 0) return undefined;
    pos = gt + 1;
    if (/^<title[\s>]/i.test(head.slice(lt, gt + 1))) {
      const end = closingTag('title');
      end.lastIndex = pos;
      const match = end.exec(head);
      return match ? head.slice(pos, match.index) : undefined;
    }
  }
}

function closingTag(name: string): RegExp {
  let re = closingTags.get(name);
  if (!re) { re = new RegExp(`</${name}\\s*>`, 'gi'); closingTags.set(name, re); }
  return re;
}

function decodeEntities(text: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', mdash: '—', ndash: '–', hellip: '…', rsquo: '’', lsquo: '‘', rdquo: '”', ldquo: '“' };
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (match, code: string) => {
    if (code[0] === '#') {
      const n = code[1] === 'x' || code[1] === 'X' ? parseInt(code.slice(2), 16) : parseInt(code.slice(1), 10);
      return Number.isFinite(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : match;
    }
    return named[code.toLowerCase()] ?? match;
  });
}

export interface FeedItem { title: string; link?: string; published?: string; summary?: string }

export async function readRssFeedTool(args: { url: string; limit?: number }): Promise<string> {
  const { body, finalUrl } = await fetchCapped(args.url, 'application/rss+xml,application/atom+xml,application/xml,text/xml;q=0.9,*/*;q=0.5');
  const feed = parseFeed(body);
  const items = feed.items.slice(0, Math.max(1, Math.min(args.limit ?? 10, 50)));
  const lines = [`${feed.title ?? finalUrl} (${feed.format}, ${feed.items.length} items, showing ${items.length})`];
  items.forEach((item, i) => {
    lines.push(`\n${i + 1}. ${item.title}`);
    if (item.published) lines.push(`   published: ${item.published}`);
    if (item.link) lines.push(`   link: ${item.link}`);
    if (item.summary) lines.push(`   ${item.summary}`);
  });
  return lines.join('\n');
}

export function parseFeed(xml: string): { format: 'RSS' | 'Atom'; title?: string; items: FeedItem[] } {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', textNodeName: '#text', processEntities: true, htmlEntities: true });
  let doc: Record<string, any>;
  try { doc = parser.parse(xml) as Record<string, any>; } catch (error) {
    throw new ToolInputError(`the feed is not valid XML: ${(error as Error).message}`);
  }
  const list = (v: unknown): any[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const text = (v: unknown): string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'object') return text((v as Record<string, unknown>)['#text']);
    return String(v);
  };
  const summary = (v: unknown) => { const t = text(v); return t ? htmlToText(t).replace(/\s+/g, ' ').slice(0, 300) : undefined; };
  if (doc.rss?.channel) {
    const channel = doc.rss.channel;
    return {
      format: 'RSS', title: text(channel.title),
      items: list(channel.item).map((item) => ({ title: text(item.title) ?? '(untitled)', link: text(item.link), published: text(item.pubDate) ?? text(item['dc:date']), summary: summary(item.description) })),
    };
  }
  if (doc.feed) {
    const feed = doc.feed;
    const linkOf = (entry: any): string | undefined => {
      const links = list(entry.link);
      const preferred = links.find((l) => typeof l === 'object' && (l['@_rel'] === undefined || l['@_rel'] === 'alternate')) ?? links[0];
      return typeof preferred === 'object' ? preferred['@_href'] : text(preferred);
    };
    return {
      format: 'Atom', title: text(feed.title),
      items: list(feed.entry).map((entry) => ({ title: text(entry.title) ?? '(untitled)', link: linkOf(entry), published: text(entry.published) ?? text(entry.updated), summary: summary(entry.summary ?? entry.content) })),
    };
  }
  if (doc['rdf:RDF']) {
    const rdf = doc['rdf:RDF'];
    return { format: 'RSS', title: text(rdf.channel?.title), items: list(rdf.item).map((item) => ({ title: text(item.title) ?? '(untitled)', link: text(item.link), published: text(item['dc:date']), summary: summary(item.description) })) };
  }
  throw new ToolInputError('the document is neither an RSS nor an Atom feed (no <rss><channel> or <feed> element)');
}
