// Which offers changed price a moment ago: each mark lasts `durationMs` (3 s), a new change restarts it.

export type Direction = "up" | "down";
export const HIGHLIGHT_MS = 3_000;

export class Highlights {
  private readonly marks = new Map<string, { direction: Direction; timer: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly onChange: (current: ReadonlyMap<string, Direction>) => void,
    private readonly durationMs = HIGHLIGHT_MS,
  ) {}

  mark(offerId: string, direction: Direction): void {
    const existing = this.marks.get(offerId);
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.marks.delete(offerId);
      this.emit();
    }, this.durationMs);
    this.marks.set(offerId, { direction, timer });
    this.emit();
  }

  clear(): void {
    for (const { timer } of this.marks.values()) clearTimeout(timer);
    this.marks.clear();
    this.emit();
  }

  private emit(): void {
    this.onChange(new Map([...this.marks].map(([id, m]) => [id, m.direction])));
  }
}
