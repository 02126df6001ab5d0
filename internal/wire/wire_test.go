package wire

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestProtocolDocNamesEveryConstant: docs/protocol.md, the twin of this
// package, names every string constant of the wire protocol declared here
// (environment variables, metadata keys, Describe features, the health
// service), so the two cannot drift apart.
func TestProtocolDocNamesEveryConstant(t *testing.T) {
	doc, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "wire.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				s, _ := strconv.Unquote(lit.Value)
				n++
				if !strings.Contains(string(doc), "`"+s) {
					t.Errorf("docs/protocol.md does not name the wire constant %q", s)
				}
			}
		}
	}
	if n < 15 {
		t.Fatalf("found %d string constants in wire.go; the test reads the wrong file", n)
	}
}
