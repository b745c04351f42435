/**
 * RFC 6749 §5.2 / §4.1.2.1: `error_description` may hold only %x20-21 / %x23-5B / %x5D-7E
 * (printable ASCII without `"` and `\`). Quotes become apostrophes, section signs "section",
 * anything else outside the set is dropped. Messages are ours: client input is never echoed.
 */
export function oauthDescription(message: string): string {
  return message
    .replace(/"/g, "'")
    .replace(/§/g, 'section ')
    .replace(/[—–]/g, '-')
    .replace(/…/g, '...')
    .replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '')
    .slice(0, 500);
}
