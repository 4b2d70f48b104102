/**
 * How a Variable prints (`toString`, `console.log`): its values as NumPy prints them where they
 * are at hand, with shape, dtype, where they live, `requiresGrad` and the op that made it.
 * @module
 */
import { formatTensor, shapeString, type Tensor, type TypedArray } from '@wgru/tensor';
import type { Variable } from './variable.js';

/** A loss value moved to the host by backward(): its read, and the values once they arrived (for printing). */
export interface MovedValue {
  host: Promise<TypedArray>;
  shape: readonly number[];
  dtype: Tensor['dtype'];
  values?: TypedArray;
}

/**
 * `Variable([...], shape [..], float32, cpu, requiresGrad, made by mul)`. The values come from
 * `moved` (a loss moved to the host whose read has arrived), else from `value` where a
 * synchronous read exists (the CPU backend, or values known on the host); otherwise the string
 * says why there are none and how to print them.
 */
export function variableString(
  v: Variable,
  value: Tensor | null,
  moved: Partial<MovedValue> | null,
  where = moved ? 'host' : value?.backend.info.name,
): string {
  if (moved === null && value === null) {
    const shape = v.freed ? `shape ${shapeString(v.freed.shape)}, ` : '';
    return `Variable(${shape}value freed${v.freed ? ` by backward() (it was made by ${v.freed.op})` : ''})`;
  }
  const live = value !== null && !value.disposed;
  const values = moved ? moved.values : live ? value.valuesNow : undefined;
  const notes: string[] = where ? [where] : [];
  if (v.requiresGrad) notes.push('requiresGrad');
  if (v.node) notes.push(`made by ${v.node.op}`);
  if (values === undefined) {
    if (moved) notes.push('its read has not arrived: console.log(await v.format()) prints it');
    else if (value?.disposed) notes.push('disposed');
    else notes.push('values on the device: console.log(await v.format()) prints them');
  }
  const t = value as Tensor; // not null here unless moved
  return formatTensor('Variable', values, moved?.shape ?? t.shape, moved?.dtype ?? t.dtype, notes);
}
