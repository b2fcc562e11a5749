import { Context } from '@temporalio/activity';

/** The running activity's context, or undefined when called directly (unit tests, the CLI). */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}
