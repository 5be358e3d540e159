import type { CollectedResults, Operator, OperatorContext, PollResult, SubmitResult, Unsubscribe } from '../operators/operator.ts';

/** An operator that accepts every attempt and reports it COMPLETED at once (push, no polling). */
export class InstantOperator implements Operator {
  readonly kind = 'local';
  async prepare(): Promise<void> {}
  async submit(ctx: OperatorContext): Promise<SubmitResult> {
    return { externalId: `bench:${ctx.attempt.attemptId}`, status: 'SUBMITTED' };
  }
  async poll(): Promise<PollResult> {
    return { status: 'COMPLETED' };
  }
  async collectResults(_ctx: OperatorContext): Promise<CollectedResults> {
    return { files: {} };
  }
  async cancel(): Promise<PollResult> {
    return { status: 'CANCELLED', reason: 'cancelled' };
  }
  watch(_ctx: OperatorContext, onChange: (result: PollResult) => void): Unsubscribe {
    let active = true;
    queueMicrotask(() => {
      if (active) onChange({ status: 'COMPLETED' });
    });
    return () => {
      active = false;
    };
  }
}
