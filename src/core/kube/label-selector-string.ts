/**
 * The string form of label selectors, as `kubectl -l` and `?labelSelector=` carry them:
 * `a=b,c!=d,e in (x,y),f notin (z),g,!h,i>3`. Errors are worded like apimachinery's parser.
 */
import {
  checkedRequirements,
  type Operator,
  type Requirement,
  type SelectorResult,
} from './label-selector.js';

type Token =
  | { kind: 'identifier'; text: string }
  | { kind: 'symbol'; text: '!' | '=' | '==' | '!=' | '(' | ')' | ',' | '<' | '>' }
  | { kind: 'end'; text: '' };

const symbolPattern = /^(==|!=|[!=(),<>])/;
const identifierPattern = /^[^\s!=(),<>]+/;

function tokenize(input: string): Token[] | string {
  const tokens: Token[] = [];
  let rest = input;
  while (rest.length > 0) {
    const trimmed = rest.replace(/^\s+/, '');
    if (trimmed.length === 0) break;
    const symbol = symbolPattern.exec(trimmed)?.[0];
    if (symbol) {
      tokens.push({ kind: 'symbol', text: symbol as Extract<Token, { kind: 'symbol' }>['text'] });
      rest = trimmed.slice(symbol.length);
      continue;
    }
    const identifier = identifierPattern.exec(trimmed)?.[0];
    if (!identifier) return `unable to parse requirement: unexpected character in "${trimmed}"`;
    tokens.push({ kind: 'identifier', text: identifier });
    rest = trimmed.slice(identifier.length);
  }
  tokens.push({ kind: 'end', text: '' });
  return tokens;
}

class Parser {
  #position = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  peek(): Token {
    return this.tokens[this.#position] ?? { kind: 'end', text: '' };
  }

  next(): Token {
    const token = this.peek();
    this.#position += 1;
    return token;
  }

  expectIdentifier(what: string): string {
    const token = this.next();
    if (token.kind !== 'identifier') {
      throw new SyntaxError(`found '${token.text}', expected: ${what}`);
    }
    return token.text;
  }

  /** A value after `=`/`!=`: an identifier, or empty when the requirement ends here. */
  optionalValue(): string {
    const token = this.peek();
    if (token.kind === 'identifier') return this.expectIdentifier('value');
    if (token.kind === 'end' || token.text === ',') return '';
    throw new SyntaxError(`found '${token.text}', expected: identifier`);
  }

  valueSet(): string[] {
    const open = this.next();
    if (open.text !== '(') throw new SyntaxError(`found '${open.text}', expected: '('`);
    const values: string[] = [];
    for (;;) {
      const token = this.next();
      if (token.kind === 'identifier') values.push(token.text);
      else if (token.text === ')') return values;
      else if (token.text !== ',')
        throw new SyntaxError(`found '${token.text}', expected: ',' or ')'`);
    }
  }

  requirement(): Requirement {
    if (this.peek().text === '!') {
      this.next();
      return { key: this.expectIdentifier('identifier'), operator: 'DoesNotExist', values: [] };
    }
    const key = this.expectIdentifier('identifier');
    const token = this.peek();
    if (token.kind === 'end' || token.text === ',') return { key, operator: 'Exists', values: [] };
    this.next();
    const simple: Partial<Record<string, Operator>> = {
      '=': 'Equals',
      '==': 'Equals',
      '!=': 'NotEquals',
    };
    const simpleOperator = simple[token.text];
    if (simpleOperator) return { key, operator: simpleOperator, values: [this.optionalValue()] };
    if (token.text === '<' || token.text === '>') {
      return {
        key,
        operator: token.text === '<' ? 'Lt' : 'Gt',
        values: [this.expectIdentifier('integer')],
      };
    }
    if (token.kind === 'identifier' && (token.text === 'in' || token.text === 'notin')) {
      return { key, operator: token.text === 'in' ? 'In' : 'NotIn', values: this.valueSet() };
    }
    throw new SyntaxError(`found '${token.text}', expected: in, notin, =, ==, !=, gt, lt`);
  }

  selector(): Requirement[] {
    const requirements: Requirement[] = [];
    if (this.peek().kind === 'end') return requirements;
    for (;;) {
      requirements.push(this.requirement());
      const token = this.next();
      if (token.kind === 'end') return requirements;
      if (token.text !== ',')
        throw new SyntaxError(`found '${token.text}', expected: ',' or 'end of string'`);
    }
  }
}

/** Parses the string form (`labels.Parse`); requirements come back sorted by key. */
export function parseLabelSelector(input: string): SelectorResult {
  const tokens = tokenize(input);
  if (typeof tokens === 'string') return { ok: false, error: tokens };
  let requirements: Requirement[];
  try {
    requirements = new Parser(tokens).selector();
  } catch (error) {
    if (error instanceof SyntaxError) {
      return { ok: false, error: `unable to parse requirement: ${error.message}` };
    }
    throw error;
  }
  return checkedRequirements(requirements);
}
