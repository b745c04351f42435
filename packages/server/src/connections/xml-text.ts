const XML_ESCAPES: ReadonlyMap<string, string> = new Map([
  ['&', '&amp;'],
  ['<', '&lt;'],
  ['>', '&gt;'],
  ['"', '&quot;'],
  ["'", '&apos;'],
  // Kept as they are: a parser normalises literal ones in an attribute value to spaces (XML 1.0 §3.3.3).
  ['\t', '&#9;'],
  ['\n', '&#10;'],
  ['\r', '&#13;'],
]);

/**
 * `value` as XML character data or a quoted attribute value (XML 1.0 §2.4, §3.3.3): `& < > " '`
 * replaced by their predefined entities, tab, LF and CR by character references. For text we
 * write into XML we build ourselves (SP metadata, AuthnRequests), never for parsing; outside
 * text in it is checked where it is set (an IdP's URLs: accounts/idp-urls.ts).
 */
export const escapeXml = (value: string): string => value.replace(/[&<>"'\t\n\r]/g, (c) => XML_ESCAPES.get(c)!);
