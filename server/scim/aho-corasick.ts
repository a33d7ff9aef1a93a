// Aho-Corasick over UTF-16 code units: the scrubber finds every literal form of every secret of a set in one
// pass over a text.

export class Automaton {
  private readonly next: Map<number, number>[] = [new Map()];
  private readonly fail: number[] = [0];
  private readonly depth: number[] = [0];
  /** length of the longest pattern that ends at this state (0: none) */
  private readonly out: number[] = [0];
  /**
   * The root's transitions for ASCII code units (0: none). Most of a text is read at the root, where a typed
   * array's lookup costs a fraction of a Map's.
   */
  private readonly rootAscii = new Int32Array(128);

  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      let s = 0;
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        let t = this.next[s].get(c);
        if (t === undefined) {
          t = this.next.length;
          this.next.push(new Map());
          this.fail.push(0);
          this.depth.push(this.depth[s] + 1);
          this.out.push(0);
          this.next[s].set(c, t);
        }
        s = t;
      }
      this.out[s] = p.length;
    }
    // breadth first: a state's failure link is computed before its children's
    const queue: number[] = [...this.next[0].values()];
    for (let h = 0; h < queue.length; h++) {
      const s = queue[h];
      for (const [c, t] of this.next[s]) {
        let f = this.fail[s];
        while (f !== 0 && !this.next[f].has(c)) f = this.fail[f];
        const g = this.next[f].get(c);
        this.fail[t] = g !== undefined && g !== t ? g : 0;
        if (this.out[t] === 0) this.out[t] = this.out[this.fail[t]];
        queue.push(t);
      }
    }
    for (const [c, t] of this.next[0]) if (c < 128) this.rootAscii[c] = t;
  }

  /**
   * Calls `hit(start, end)` for the longest pattern ending at each position that ends one (any shorter one
   * ending there lies inside it). Returns how many trailing characters begin a pattern.
   */
  scan(text: string, hit: (start: number, end: number) => void): number {
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (s === 0 && c < 128) s = this.rootAscii[c];
      else {
        let t = this.next[s].get(c);
        while (t === undefined && s !== 0) {
          s = this.fail[s];
          t = this.next[s].get(c);
        }
        s = t ?? 0;
      }
      const len = this.out[s];
      if (len > 0) hit(i + 1 - len, i + 1);
    }
    return this.depth[s];
  }
}
