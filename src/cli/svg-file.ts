import { writeFileSync } from 'node:fs';
import { UserError } from '../errors.ts';

/** Writes a diagram, turning a file-system error into a one-line user error. */
export function writeSvg(file: string, svg: string): void {
  try {
    writeFileSync(file, svg);
  } catch (e) {
    throw new UserError(`--svg ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  process.stderr.write(`wrote ${file}\n`);
}
