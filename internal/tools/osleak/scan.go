package main

import (
	"bufio"
	"bytes"
	"fmt"
	"go/build/constraint"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// linuxOnly matches the Linux-only mechanisms a shared file must not use:
// the /proc file system (not a package path ending in proc), pidfds,
// PR_SET_PDEATHSIG (Pdeathsig in syscall), inotify and fallocate. It is
// built from pieces so that this file does not match it.
var linuxOnly = regexp.MustCompile(`(?:^|[^\w.-])/` + `proc\b|(?i:pid` + `fd)|PR_SET_PDEATH` + `SIG|Pdeath` + `sig|(?i:ino` + `tify)|(?i:falloc` + `ate)`)

// knownOS are the GOOS values (and "unix") a file name or build line can
// name; from go tool dist list.
var knownOS = map[string]bool{
	"aix": true, "android": true, "darwin": true, "dragonfly": true, "freebsd": true,
	"hurd": true, "illumos": true, "ios": true, "js": true, "linux": true, "netbsd": true,
	"openbsd": true, "plan9": true, "solaris": true, "wasip1": true, "windows": true,
	"zos": true, "unix": true,
}

// knownArch are the GOARCH values a file name can end with.
var knownArch = map[string]bool{
	"386": true, "amd64": true, "arm": true, "arm64": true, "loong64": true, "mips": true,
	"mipsle": true, "mips64": true, "mips64le": true, "ppc64": true, "ppc64le": true,
	"riscv64": true, "s390x": true, "wasm": true,
}

// Finding is one Linux-only mention in a shared file.
type Finding struct {
	File string
	Line int
	Word string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %q: a shared file (no OS in its name or //go:build line) uses a Linux-only mechanism", f.File, f.Line, f.Word)
}

// scan walks root and returns the findings in shared non-test files.
func scan(root string) ([]Finding, error) {
	var out []Finding
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDir(path, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || namesOS(d.Name()) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if buildLineNamesOS(src) {
			return nil
		}
		out = append(out, mentions(path, src)...)
		return nil
	})
	return out, err
}

// skipDir reports whether the walk leaves out directory path (named name).
func skipDir(path, name string) bool {
	if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return true
	}
	_, err := os.Stat(filepath.Join(path, "go.mod"))
	return err == nil
}

// namesOS reports whether a file name ends in _GOOS.go, _GOARCH.go or
// _GOOS_GOARCH.go with GOOS an OS (or unix, which go build does not
// recognise in names but people write).
func namesOS(name string) bool {
	parts := strings.Split(strings.TrimSuffix(name, ".go"), "_")
	if len(parts) < 2 {
		return false
	}
	last := parts[len(parts)-1]
	if knownOS[last] {
		return true
	}
	return knownArch[last] && len(parts) >= 3 && knownOS[parts[len(parts)-2]]
}

// buildLineNamesOS reports whether the file's //go:build line names an OS.
func buildLineNamesOS(src []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "package ") {
			return false
		}
		if !constraint.IsGoBuild(line) {
			continue
		}
		expr, err := constraint.Parse(line)
		if err != nil {
			return false
		}
		named := false
		expr.Eval(func(tag string) bool {
			named = named || knownOS[tag]
			return true
		})
		return named
	}
	return false
}

// mentions lists the Linux-only words in src's code: identifiers, strings
// and the like, not comments.
func mentions(path string, src []byte) []Finding {
	var out []Finding
	fset := token.NewFileSet()
	file := fset.AddFile(path, -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, nil, 0)
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			return out
		}
		if w := linuxOnly.FindString(lit); w != "" {
			out = append(out, Finding{File: path, Line: fset.Position(pos).Line, Word: lit})
		}
	}
}
