// The editor's keys: space plays or stops, ←/→ step through the takes, enter
// commits the take in focus, delete (or backspace) discards it, escape stops;
// the timeline's: + and - zoom, [ ] and L loop, F continues from a point,
// R replaces the loop's stretch;
// the grid's: G opens the grid of the part shown, T taps its tempo;
// X switches A and B; ctrl+Z (⌘Z on a Mac) undoes the chain's latest move, ctrl+shift+Z redoes it;
// ? lists them all (HELP).
// Keys typed into the form, and space or enter on a button or link, are theirs.

/** The keys in a line, as the transport shows them. */
export const KEYS_HINT = "space: play/stop · ←/→: takes · enter: commit · delete: discard · ctrl+z: undo · ?: all keys";

/** Every key and move, as the help panel (help.js) lists them: [keys, what
 *  they do]. A new move adds its line here, and its key to MOVES. */
export const HELP = [
  ["Space", "Play or stop: the take in focus, else the spine (a loop, when played from inside it)"],
  ["← / →", "Focus the previous or next take; one playing hands over at the same point"],
  ["Enter", "Commit the take in focus to the spine"],
  ["Delete / Backspace", "Discard the take in focus: it goes to the bin, and Undo brings it back"],
  ["Ctrl+Z (⌘Z)", "Undo the chain's latest move (a commit, uncommit, discard, restore or grid change), after a reload too"],
  ["Ctrl+Shift+Z (⌘⇧Z), Ctrl+Y", "Redo the move undone last"],
  ["Escape", "Stop playing"],
  ["X", "Switch A ⇄ B at the same point against the seam, once two takes are A and B"],
  ["Click a waveform", "Play from there, and mark the point: it snaps to a bar line within a few pixels, else to the nearest beat"],
  ["Alt + click or drag", "Place a point, a loop or bar 1 freely, not snapped to the grid"],
  ["F", "Ask for takes that continue from the point marked"],
  ["+ / −", "Zoom the timeline in or out"],
  ["0", "Fit the whole spine in view"],
  ["Ctrl + wheel", "Zoom the timeline around the pointer"],
  ["Drag on the ruler", "Loop that stretch of the spine, until stopped"],
  ["Shift + click", "Loop from the last point clicked to there (ruler or spine)"],
  ["[ / ]", "Start or end the loop where the spine is"],
  ["L", "Loop the part shown, or clear the loop"],
  ["R", "Replace this stretch: ask for takes that play instead of the loop (inside one part, 1 s or more) and come back into the part"],
  ["Click on the map", "Show a part's takes, or a take in focus"],
  ["Click a part's tempo and key", "Correct its grid: type or tap the tempo, pick the time signature and key, put bar 1; (yours) marks what you set"],
  ["G", "Open or close the grid of the part shown"],
  ["T", "Tap the beat, 4 times or more: the grid's tempo, sent when you pause"],
  ["Drag the 1 on a part", "Move bar 1 (it snaps to a beat); ← / → on it move it a beat"],
  ["Click the title", "Rename the chain: Enter saves, Escape cancels"],
  ["More like this", "On a take: more takes with its knobs, each with a new seed"],
  ["Fork", "Under the spine: a new chain whose spine is this one up to the part shown"],
  ["Uncommit", "Under the spine, on its tip: a take again, with the takes beside it back"],
  ["Bin", "At the foot of the page: what was discarded, to restore, or to empty for good"],
  ["?", "Show or hide this list"],
];

// A key pressed alone (shift aside): ctrl or cmd with it is the browser's.
const alone = (event) => !event.ctrlKey && !event.metaKey && !event.altKey;
// A key with ctrl, or cmd on a Mac.
const command = (event) => (event.ctrlKey || event.metaKey) && !event.altKey;
const undoOrRedo = (moves, event) => command(event) && ((event.shiftKey ? moves.redo() : moves.undo()), true);

// Each key's move; one that answers true took the key (its default is prevented).
const MOVES = {
  " ": (moves) => moves.playOrStop(),
  ArrowRight: (moves) => moves.stepTake(1),
  ArrowLeft: (moves) => moves.stepTake(-1),
  Enter: (moves) => moves.commitFocused(),
  Delete: (moves) => moves.discardFocused(),
  Backspace: (moves) => moves.discardFocused(),
  Escape: (moves) => { moves.stopPlaying(); return false; },
  "+": (moves, event) => alone(event) && moves.zoom(1),
  "=": (moves, event) => alone(event) && moves.zoom(1),
  "-": (moves, event) => alone(event) && moves.zoom(-1),
  0: (moves, event) => alone(event) && moves.zoom(0),
  f: (moves, event) => alone(event) && moves.continueFromPoint(),
  F: (moves, event) => alone(event) && moves.continueFromPoint(),
  "[": (moves, event) => alone(event) && moves.loopEdge("from"),
  "]": (moves, event) => alone(event) && moves.loopEdge("to"),
  l: (moves, event) => alone(event) && moves.toggleLoop(),
  r: (moves, event) => alone(event) && moves.replaceStretch(),
  R: (moves, event) => alone(event) && moves.replaceStretch(),
  L: (moves, event) => alone(event) && moves.toggleLoop(),
  "?": (moves) => moves.help(),
  x: (moves, event) => alone(event) && moves.switchAB(),
  X: (moves, event) => alone(event) && moves.switchAB(),
  g: (moves, event) => alone(event) && moves.grid(),
  G: (moves, event) => alone(event) && moves.grid(),
  t: (moves, event) => alone(event) && moves.tap(event.timeStamp / 1000),
  T: (moves, event) => alone(event) && moves.tap(event.timeStamp / 1000),
  z: undoOrRedo,
  Z: undoOrRedo,
  y: (moves, event) => command(event) && !event.shiftKey && (moves.redo(), true),
};

/** A keydown listener calling `moves`: playOrStop(), stepTake(±1),
 *  commitFocused(), discardFocused(), zoom(±1 or 0), continueFromPoint(),
 *  loopEdge("from" or "to"), toggleLoop(), replaceStretch(), help(), grid() (the grid
 *  editor), tap(seconds) (a tap of the beat), switchAB() (each true when it applied),
 *  stopPlaying(), undo(), redo(). */
export function keyboard(moves) {
  return (event) => {
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    if (event.target.closest("button, a, summary") && (event.key === " " || event.key === "Enter")) return;
    if (MOVES[event.key]?.(moves, event) === true) event.preventDefault();
  };
}
