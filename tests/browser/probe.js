// What the browser drivers (console.mjs, consoles.mjs, firefox.mjs, webkit.py) read in
// vncgate's pages, the same in every engine: evaluated in the page, it defines
// window.vncgateProbe.
window.vncgateProbe = {
  // The status line's text.
  status() {
    const status = document.querySelector('#status');
    return status ? status.innerText : '';
  },
  // noVNC's canvas: its size and distinct colours. With `mark`, its pixels are kept in the page;
  // otherwise `changed` counts the pixels that differ from the marked ones.
  canvas(mark) {
    const c = document.querySelector('canvas');
    if (!c || !c.width || !c.height) return { width: 0, height: 0, colours: 0, changed: 0 };
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    const before = window.vncgateMarked;
    let changed = 0;
    for (let i = 0; i < data.length; i += 4) {
      colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      if (before && (before[i] !== data[i] || before[i + 1] !== data[i + 1] || before[i + 2] !== data[i + 2])) {
        changed += 1;
      }
    }
    if (mark) window.vncgateMarked = data.slice();
    return { width: c.width, height: c.height, colours: colours.size, changed };
  },
  // The most distinct colours on any canvas of the page (every fourth pixel): SPICE draws on
  // several, created as its channels open.
  drawn() {
    let best = 0;
    for (const c of document.querySelectorAll('canvas')) {
      if (!c.width || !c.height) continue;
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const colours = new Set();
      for (let i = 0; i < data.length; i += 16) colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      best = Math.max(best, colours.size);
    }
    return best;
  },
  // The serial terminal's text, row by row.
  terminal() {
    const rows = document.querySelector('.xterm-rows');
    return rows ? rows.innerText : '';
  },
};
