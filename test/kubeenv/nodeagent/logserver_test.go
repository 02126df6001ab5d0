package nodeagent

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

func TestLogServerTailLines(t *testing.T) {
	a := &agent{opts: Options{WorkDir: t.TempDir()}}
	p := LogPath(a.opts.WorkDir, "ns", "pod", "main")
	f, err := openLog(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("one\ntwo\nthree\n")
	f.Close()
	for url, want := range map[string]string{
		"/containerLogs/ns/pod/main":                          "one\ntwo\nthree\n",
		"/containerLogs/ns/pod/main?tailLines=2":              "two\nthree\n",
		"/containerLogs/ns/pod/main?tailLines=2&limitBytes=3": "two",
		"/containerLogs/ns/pod/main?tailLines=0":              "",
	} {
		rec := httptest.NewRecorder()
		a.serveLogs(rec, httptest.NewRequest(http.MethodGet, url, nil))
		if rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("GET %s = %d %q, want %q", url, rec.Code, rec.Body.String(), want)
		}
	}
	for _, url := range []string{"/containerLogs/ns/pod/other", "/containerLogs/ns/pod", "/stats"} {
		rec := httptest.NewRecorder()
		a.serveLogs(rec, httptest.NewRequest(http.MethodGet, url, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", url, rec.Code)
		}
	}
	os.Remove(p)
}
