package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"google.golang.org/protobuf/encoding/protojson"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

// handles is the state file: the handle of every task started and not yet
// removed, by task id, each in protobuf's JSON form. It is all the host
// needs to find its tasks again through a new driver process.
type handles struct {
	path string
	byID map[string]*driverv1.TaskHandle
}

func defaultStatePath() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("driver-host-%d.json", os.Getuid()))
}

func loadHandles(path string) (*handles, error) {
	h := &handles{path: path, byID: map[string]*driverv1.TaskHandle{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	for id, m := range raw {
		th := &driverv1.TaskHandle{}
		if err := protojson.Unmarshal(m, th); err != nil {
			return nil, fmt.Errorf("%s: task %s: %v", path, id, err)
		}
		h.byID[id] = th
	}
	return h, nil
}

// save writes the state file atomically.
func (h *handles) save() error {
	raw := map[string]json.RawMessage{}
	for id, th := range h.byID {
		b, err := protojson.Marshal(th)
		if err != nil {
			return err
		}
		raw[id] = b
	}
	b, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return err
	}
	tmp := h.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, h.path)
}

func (h *handles) ids() []string {
	ids := make([]string, 0, len(h.byID))
	for id := range h.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
