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
 * write into XML we build ourselves (SP metadata, AuthnRequests), never for parsing; check
 * outside text with `isXmlText` first.
 */
export const escapeXml = (value: string): string => value.replace(/[&<>"'\t\n\r]/g, (c) => XML_ESCAPES.get(c)!);

/**
 * Whether every character of `value` is one XML 1.0 allows (§2.2 Char): no C0 control but tab,
 * LF and CR, no lone surrogate, no U+FFFE or U+FFFF. An XML document holding one is not
 * well-formed, whatever the escaping.
 */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
export const isXmlText = (value: string): boolean => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|\p{Cs}/u.test(value);
