package main

// becomeSubreaper does nothing: macOS has no child subreaper. Descendants
// the task orphans are re-parented to launchd, which reaps them; the shim
// still kills what is left of the task's process group when the task ends.
func becomeSubreaper() {}
