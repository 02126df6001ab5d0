package main

import "context"

// forwardResizes does nothing: a Windows console has no SIGWINCH to say
// that its size changed, so the command keeps the size sent at its start.
// (The example driver runs no task on Windows; this keeps the host
// buildable there.)
func forwardResizes(context.Context, execStream, int) {}
