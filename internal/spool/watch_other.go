//go:build !linux

package spool

// shared is the process's one file watcher: fsnotify (see fsWatcher).
var shared fileWatcher = newFSWatcher()
