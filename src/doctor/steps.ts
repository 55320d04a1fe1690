/**
 * `mcp-tunnel doctor`'s results: one line per step, ✓ passed, ✗ failed (with a hint), - skipped
 * because a prerequisite failed, · not applicable (no TLS on ws://).
 */
export type StepStatus = 'pass' | 'fail' | 'skip' | 'na';

export interface StepResult {
  step: string;
  status: StepStatus;
  /** What was found, or what went wrong (one line; never a secret). */
  detail: string;
  /** What to do about a failure. */
  hint?: string;
}

export const pass = (step: string, detail: string): StepResult => ({ step, status: 'pass', detail });
export const fail = (step: string, detail: string, hint?: string): StepResult => ({ step, status: 'fail', detail, ...(hint === undefined ? {} : { hint }) });
export const skip = (step: string, because: string): StepResult => ({ step, status: 'skip', detail: `skipped (${because} failed)` });
export const notApplicable = (step: string, detail: string): StepResult => ({ step, status: 'na', detail });

const MARK: Record<StepStatus, string> = { pass: '✓', fail: '✗', skip: '-', na: '·' };

/** Every step passed (or did not apply). */
export function allPassed(results: readonly StepResult[]): boolean {
  return results.every((r) => r.status === 'pass' || r.status === 'na');
}

/** The readable report: a mark, the step, the detail, and an indented hint under a failure. */
export function renderSteps(results: readonly StepResult[]): string {
  const width = Math.max(...results.map((r) => r.step.length)) + 2;
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${MARK[r.status]} ${r.step.padEnd(width)}${r.detail}`);
    if (r.hint !== undefined) lines.push(`  ${''.padEnd(width)}hint: ${r.hint}`);
  }
  const failed = results.filter((r) => r.status === 'fail').length;
  lines.push('', failed === 0 ? 'all checks passed' : `${failed} check${failed === 1 ? '' : 's'} failed`, '');
  return lines.join('\n');
}
