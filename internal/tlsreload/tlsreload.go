// Package tlsreload serves TLS from certificate files that may change while
// the server runs. A Reloader re-reads the server's certificate, its key and
// the client CA bundle when their files change, at most once per interval and
// only when a handshake comes, so rotation needs no restart. A change is seen
// however the files are replaced: rewritten in place, renamed over, or
// swapped through a symbolic link (how Kubernetes Secrets and cert-manager
// update a mounted ..data directory). A new set that does not load (a
// certificate without its matching key, half-written files) keeps the old
// one in use and is reported once; it is tried again at each interval.
package tlsreload

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultInterval is how often, at most, a Reloader looks at its files when
// Config.Interval is zero.
const DefaultInterval = time.Second

// Config names the files a Reloader serves.
type Config struct {
	// CertFile and KeyFile are the server's certificate chain and private
	// key, PEM. Both are required.
	CertFile, KeyFile string
	// ClientCAFile is a PEM bundle of the CAs client certificates must
	// chain to. When set, clients must present a certificate that verifies
	// (tls.RequireAndVerifyClientCert); when empty, none is asked for.
	ClientCAFile string
	// Interval is the least time between two looks at the files; zero means
	// DefaultInterval, a negative value looks at every handshake.
	Interval time.Duration
	// OnError, if set, is called when changed files fail to load (the old
	// certificates stay in use). It is called once per failing set of files.
	OnError func(error)
	// OnReload, if set, is called after changed files were loaded.
	OnReload func()
}

// Reloader holds the TLS configuration built from the current files.
type Reloader struct {
	cfg     Config
	current atomic.Pointer[tls.Config]

	mu      sync.Mutex
	checked time.Time   // last look at the files
	loaded  []fileStamp // stamps of the files current was built from
	failed  []fileStamp // stamps of the last set that failed, reported
}

// New loads the files once and returns a Reloader serving them. It fails,
// naming the file, when they do not load.
func New(cfg Config) (*Reloader, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("tlsreload: both a certificate file and a key file are required")
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	r := &Reloader{cfg: cfg}
	stamps := r.stamps()
	conf, err := r.load()
	if err != nil {
		return nil, err
	}
	r.current.Store(conf)
	r.loaded, r.checked = stamps, time.Now()
	return r, nil
}

// TLSConfig returns a server configuration whose every handshake uses the
// current certificates (through GetConfigForClient).
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			r.maybeReload()
			return r.current.Load(), nil
		},
	}
}

// Current returns the configuration built from the files last loaded.
func (r *Reloader) Current() *tls.Config { return r.current.Load() }

// maybeReload looks at the files if the interval has passed since the last
// look, and loads them if they changed.
func (r *Reloader) maybeReload() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.cfg.Interval > 0 && now.Sub(r.checked) < r.cfg.Interval {
		return
	}
	r.checked = now
	stamps := r.stamps()
	if sameStamps(stamps, r.loaded) {
		return
	}
	conf, err := r.load()
	if err != nil {
		if !sameStamps(stamps, r.failed) && r.cfg.OnError != nil {
			r.cfg.OnError(err)
		}
		r.failed = stamps
		return
	}
	r.current.Store(conf)
	r.loaded, r.failed = stamps, nil
	if r.cfg.OnReload != nil {
		r.cfg.OnReload()
	}
}

// load reads the files and builds a server configuration from them.
func (r *Reloader) load() (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsreload: certificate %s with key %s: %w", r.cfg.CertFile, r.cfg.KeyFile, err)
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if r.cfg.ClientCAFile == "" {
		return conf, nil
	}
	pem, err := os.ReadFile(r.cfg.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("tlsreload: client CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tlsreload: client CA bundle %s holds no PEM certificate", r.cfg.ClientCAFile)
	}
	conf.ClientCAs, conf.ClientAuth = pool, tls.RequireAndVerifyClientCert
	return conf, nil
}

// fileStamp is what tells that a file changed: its identity (device and
// inode, through os.SameFile), size and modification time, all of the file
// a path leads to after following symbolic links.
type fileStamp struct {
	info os.FileInfo
	err  bool
}

func (r *Reloader) stamps() []fileStamp {
	paths := []string{r.cfg.CertFile, r.cfg.KeyFile, r.cfg.ClientCAFile}
	out := make([]fileStamp, len(paths))
	for i, p := range paths {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		out[i] = fileStamp{info: fi, err: err != nil}
	}
	return out
}

func sameStamps(a, b []fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.err != y.err || (x.info == nil) != (y.info == nil) {
			return false
		}
		if x.info == nil {
			continue
		}
		if !os.SameFile(x.info, y.info) || x.info.Size() != y.info.Size() || !x.info.ModTime().Equal(y.info.ModTime()) {
			return false
		}
	}
	return true
}

// NewLogged is New with OnError and OnReload, unless cfg sets them, logging
// to log: an error for files that do not load (the old ones still served),
// an info line for a rotation. It is what a server started from flags or
// environment variables uses, so that every one of them says the same.
func NewLogged(cfg Config, log *slog.Logger) (*Reloader, error) {
	if cfg.OnError == nil {
		cfg.OnError = func(err error) {
			log.Error("new certificate files do not load; still serving the old ones", "error", err.Error())
		}
	}
	if cfg.OnReload == nil {
		cert := cfg.CertFile
		cfg.OnReload = func() { log.Info("certificate files changed; serving the new ones", "cert", cert) }
	}
	return New(cfg)
}
