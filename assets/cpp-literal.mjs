// Shared by the build scripts that embed bytes in the binary (build.mjs: the web client;
// breached-passwords.mjs: the common-passwords list).

// A C++ string literal for arbitrary bytes, split into lines of adjacent literals. Octal
// escapes always take three digits, so a following digit is never read as part of one; '?'
// is escaped so that no trigraph can form.
export function cppLiteral(data) {
  const lines = [];
  let line = '';
  for (const byte of data) {
    let piece;
    if (byte === 0x22) piece = '\\"';
    else if (byte === 0x5c) piece = '\\\\';
    else if (byte === 0x3f) piece = '\\?';
    else if (byte === 0x0a) piece = '\\n';
    else if (byte >= 0x20 && byte < 0x7f) piece = String.fromCharCode(byte);
    else piece = '\\' + byte.toString(8).padStart(3, '0');
    line += piece;
    if (line.length >= 100 || byte === 0x0a) {
      lines.push(`    "${line}"`);
      line = '';
    }
  }
  if (line || lines.length === 0) lines.push(`    "${line}"`);
  return lines.join('\n');
}
