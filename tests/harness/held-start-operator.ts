import { LocalOperator } from '../../operators/local-operator.ts';
import type { OperatorContext, SubmitResult } from '../../operators/operator.ts';

/** The real local operator, whose submit launches the task and then holds its answer until `release` (a start in flight). */
export class HeldStartOperator extends LocalOperator {
  private releaseStart: () => void = () => undefined;
  private readonly held = new Promise<void>((resolve) => (this.releaseStart = resolve));
  /** True once a submit has launched its task. */
  launched = false;

  override async submit(ctx: OperatorContext): Promise<SubmitResult> {
    const result = await super.submit(ctx);
    this.launched = true;
    await this.held;
    return result;
  }

  /** Lets every held submit answer. */
  release(): void {
    this.releaseStart();
  }
}
