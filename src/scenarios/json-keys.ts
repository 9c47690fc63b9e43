/**
 * Finding a repeated key in a JSON object, which JSON.parse accepts silently (the last one wins).
 * The yaml package can refuse them in JSON too (JSON is YAML), but it parses the built-in scenarios
 * about 200 times slower than JSON.parse, which `irqlab list` and `check --all` would pay at every
 * start; this scan costs about what JSON.parse does (docs/decisions/0112-scenario-file-errors.md).
 */

export interface DuplicateKey {
  readonly key: string;
  /** The path of the second occurrence, as the schema's messages give paths. */
  readonly path: readonly (string | number)[];
  /** 1-based, of the second occurrence's opening quote. */
  readonly line: number;
  readonly column: number;
}

interface Frame {
  /** Keys seen so far (objects), undefined for arrays. */
  readonly keys: Set<string> | undefined;
  /** The current key (objects) or index (arrays). */
  at: string | number;
  /** Objects: the next string is a key. */
  expectKey: boolean;
}

/**
 * The first repeated key in `text`, which must be valid JSON (call after JSON.parse succeeded), or
 * undefined.
 */
export function duplicateKey(text: string): DuplicateKey | undefined {
  const stack: Frame[] = [];
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      line++;
      lineStart = i + 1;
    } else if (c === '{') {
      stack.push({ keys: new Set(), at: '', expectKey: true });
    } else if (c === '[') {
      stack.push({ keys: undefined, at: 0, expectKey: false });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top.keys) top.expectKey = true;
      else top.at = (top.at as number) + 1;
    } else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        top.expectKey = false;
        top.at = key;
        if (top.keys.has(key))
          return { key, path: stack.map((f) => f.at), line, column: start - lineStart + 1 };
        top.keys.add(key);
      }
    }
  }
  return undefined;
}
