import { StratoError, SysErrors } from '../errors/error-code.ts';

/**
 * ZQL tokens. Keywords are not reserved: they are `word` tokens that the parser recognises where it
 * expects them (case-insensitively), so a field may be called `count` or `type`.
 */
export type TokenType = 'word' | 'number' | 'string' | 'punct' | 'eof';

export interface Token {
  type: TokenType;
  /** The source text (for strings: without the quotes). */
  text: string;
  /** 0-based offset in the ZQL text. */
  pos: number;
}

const PUNCT = ['!=', '>=', '<=', '(', ')', ',', '.', ';', '=', '>', '<'] as const;
const WORD = /[A-Za-z0-9_]/;
const DIGIT = /[0-9]/;

export function zqlSyntaxError(text: string, pos: number, message: string): StratoError {
  const near = text.slice(pos, pos + 20);
  return new StratoError(SysErrors.INVALID_ARGUMENT_ERROR,
    `ZQL syntax error at position ${pos + 1}${near ? ` near '${near}'` : ' (end of text)'}: ${message}`);
}

/**
 * Splits ZQL into tokens. Strings are single- or double-quoted with no escapes (as in ZStack's
 * grammar: a string cannot contain its own quote); numbers are `-?digits[.digits]`.
 */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw zqlSyntaxError(text, i, `unterminated string: no closing ${c}`);
      out.push({ type: 'string', text: text.slice(i + 1, end), pos: i });
      i = end + 1;
      continue;
    }
    if (DIGIT.test(c) || (c === '-' && DIGIT.test(text[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < text.length && WORD.test(text[j])) j++;
      const whole = text.slice(i, j);
      if (/^-?\d+$/.test(whole)) {
        // A fraction: `1.5` (but `zone.uuid` never starts with a digit-only word followed by a word).
        if (text[j] === '.' && DIGIT.test(text[j + 1] ?? '')) {
          let k = j + 1;
          while (k < text.length && DIGIT.test(text[k])) k++;
          out.push({ type: 'number', text: text.slice(i, k), pos: i });
          i = k;
        } else {
          out.push({ type: 'number', text: whole, pos: i });
          i = j;
        }
        continue;
      }
      if (c === '-') throw zqlSyntaxError(text, i, `'${whole}' is not a number`);
      out.push({ type: 'word', text: whole, pos: i });
      i = j;
      continue;
    }
    if (WORD.test(c)) {
      let j = i + 1;
      while (j < text.length && WORD.test(text[j])) j++;
      out.push({ type: 'word', text: text.slice(i, j), pos: i });
      i = j;
      continue;
    }
    const p = PUNCT.find((t) => text.startsWith(t, i));
    if (!p) throw zqlSyntaxError(text, i, `unexpected character '${c}'`);
    out.push({ type: 'punct', text: p, pos: i });
    i += p.length;
  }
  out.push({ type: 'eof', text: '', pos: text.length });
  return out;
}
