// Steps of different work items run at once; time passing runs alone. The test server skips time
// only while nothing is outstanding anywhere (no workflow task, no activity), so a sleep among
// busy lanes would crawl at wall-clock speed. A readers-writer gate with the writer first: a
// waiting time step lets the steps under way finish and holds new ones back until it is done.
export class StepGate {
  private readers = 0;
  private writing = false;
  private writersWaiting = 0;
  private wakers: (() => void)[] = [];

  private wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const w of wakers) w();
  }

  private async until(ready: () => boolean): Promise<void> {
    while (!ready()) await new Promise<void>((resolve) => this.wakers.push(resolve));
  }

  async shared<T>(run: () => Promise<T>): Promise<T> {
    await this.until(() => !this.writing && this.writersWaiting === 0);
    this.readers++;
    try {
      return await run();
    } finally {
      this.readers--;
      this.wake();
    }
  }

  async alone<T>(run: () => Promise<T>): Promise<T> {
    this.writersWaiting++;
    await this.until(() => !this.writing && this.readers === 0);
    this.writersWaiting--;
    this.writing = true;
    try {
      return await run();
    } finally {
      this.writing = false;
      this.wake();
    }
  }
}
