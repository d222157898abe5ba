// Package docs runs the README's walkthroughs, so that the commands it
// shows keep working: every fenced sh block is either a walkthrough step,
// marked <!-- walkthrough: NAME --> (or <!-- walkthrough: NAME, as root -->),
// or excluded with <!-- not run: reason -->, on the line before the fence.
// The steps of one walkthrough run in README order in one bash session.
package docs
