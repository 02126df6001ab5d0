package daemon

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkKeys refuses in the manifest what its JSON decoding cannot see: a
// key given twice in one mapping (YAML to JSON keeps the last, so two
// plugins: sections would silently drop the first), and a key that names a
// field only when case is ignored (JSON decoding would apply Restart: as
// restart:). The error, a *ManifestError, has no File yet.
func checkKeys(data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return &ManifestError{Err: fmt.Errorf("not YAML: %w", err)}
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if fe := checkNode(root, reflect.TypeFor[rawManifest](), "", 0); fe != nil {
		return &ManifestError{Field: fe.field, Err: fe.err}
	}
	plugins := valueOf(root, "plugins")
	if plugins == nil || plugins.Kind != yaml.SequenceNode {
		return nil
	}
	for i, p := range plugins.Content {
		if fe := checkNode(p, reflect.TypeFor[rawPlugin](), "", 0); fe != nil {
			who := fmt.Sprintf("#%d", i+1)
			if n := valueOf(p, "name"); n != nil && n.Kind == yaml.ScalarNode && n.Value != "" {
				who = fmt.Sprintf("%q", n.Value)
			}
			return &ManifestError{Plugin: who, Field: fe.field, Err: fe.err}
		}
	}
	return nil
}

// maxDepth bounds checkNode's recursion: the manifest's fields are at
// most a few levels deep.
const maxDepth = 64

// checkNode checks the mappings in n, which decodes into t (nil: any).
func checkNode(n *yaml.Node, t reflect.Type, prefix string, depth int) *fieldErr {
	if depth > maxDepth {
		return &fieldErr{strings.TrimSuffix(prefix, "."), fmt.Errorf("nested more than %d levels deep", maxDepth)}
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias != nil {
			return checkNode(n.Alias, t, prefix, depth+1)
		}
	case yaml.SequenceNode:
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Slice {
			elem = t.Elem()
		}
		for _, c := range n.Content {
			if fe := checkNode(c, elem, prefix, depth+1); fe != nil {
				return fe
			}
		}
	case yaml.MappingNode:
		return checkMapping(n, t, prefix, depth)
	}
	return nil
}

// checkMapping refuses a key given twice, and, when t is a struct, a key
// that matches one of its fields only when case is ignored.
func checkMapping(n *yaml.Node, t reflect.Type, prefix string, depth int) *fieldErr {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := prefix + k.Value
		if line, dup := seen[k.Value]; dup {
			where := fmt.Sprintf("lines %d and %d", line, k.Line)
			if line == k.Line {
				where = fmt.Sprintf("both on line %d", line)
			}
			return &fieldErr{field, fmt.Errorf("given twice (%s): give each key once", where)}
		}
		seen[k.Value] = k.Line
		var vt reflect.Type
		switch {
		case t != nil && t.Kind() == reflect.Struct:
			ft, folded := fieldOf(t, k.Value)
			if ft == nil && folded != "" {
				return &fieldErr{field, fmt.Errorf("unknown field %q: keys are case-sensitive (did you mean %q?)", k.Value, folded)}
			}
			vt = ft
		case t != nil && t.Kind() == reflect.Map:
			vt = t.Elem()
		}
		if t == reflect.TypeFor[rawManifest]() && k.Value == "plugins" {
			continue // each entry is checked on its own, to name it
		}
		if fe := checkNode(v, vt, field+".", depth+1); fe != nil {
			return fe
		}
	}
	return nil
}

// fieldOf is the type of t's field whose JSON name is key; or, when only a
// name differing in case matches, nil and that name.
func fieldOf(t reflect.Type, key string) (reflect.Type, string) {
	folded := ""
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == key:
			return f.Type, ""
		case strings.EqualFold(name, key):
			folded = name
		}
	}
	return nil, folded
}

// valueOf is the value of key in mapping n, nil if it has none.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
