// The editor's keys: space plays or stops, ←/→ step through the takes, enter
// commits the take in focus, delete (or backspace) discards it, escape stops.
// Keys typed into the form, and space or enter on a button or link, are theirs.

/** The keys in a line, as the transport shows them. */
export const KEYS_HINT = "space: play/stop · ←/→: takes · enter: commit · delete: discard";

// Each key's move; one that answers true took the key (its default is prevented).
const MOVES = {
  " ": (moves) => moves.playOrStop(),
  ArrowRight: (moves) => moves.stepTake(1),
  ArrowLeft: (moves) => moves.stepTake(-1),
  Enter: (moves) => moves.commitFocused(),
  Delete: (moves) => moves.discardFocused(),
  Backspace: (moves) => moves.discardFocused(),
  Escape: (moves) => { moves.stopPlaying(); return false; },
};

/** A keydown listener calling `moves`: playOrStop(), stepTake(±1),
 *  commitFocused(), discardFocused() (each true when it applied), stopPlaying(). */
export function keyboard(moves) {
  return (event) => {
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    if (event.target.closest("button, a, summary") && (event.key === " " || event.key === "Enter")) return;
    if (MOVES[event.key]?.(moves) === true) event.preventDefault();
  };
}
