package tether

import "slices"

// execConfig holds the exec runtime's own options.
type execConfig struct {
	args     []string
	env      []string
	checksum []byte
	autoMTLS bool
	outlive  bool
	restart  bool
	spoolDir string
}

// execSetting is how exec options reach the exec runtime through
// RuntimeEnv.Settings.
type execSetting func(*execConfig)

func execOption(name string, f func(*execConfig)) Option {
	return RuntimeSetting(name, execSetting(f), execScheme)
}

func execConfigFrom(settings []any) execConfig {
	var cfg execConfig
	for _, s := range settings {
		if f, ok := s.(execSetting); ok {
			f(&cfg)
		}
	}
	return cfg
}

// WithArgs sets a launched plugin's command-line arguments. Exec targets
// only.
func WithArgs(args ...string) Option {
	return execOption("WithArgs", func(c *execConfig) { c.args = slices.Clone(args) })
}

// WithEnv adds KEY=VALUE entries to a launched plugin's environment, which
// otherwise is the host's. Exec targets only.
func WithEnv(env ...string) Option {
	return execOption("WithEnv", func(c *execConfig) { c.env = append(c.env, env...) })
}

// WithChecksum refuses to run the binary unless its SHA-256 is sum. The file
// that was hashed is the file executed, even if another is renamed over its
// path in between. Exec targets only.
func WithChecksum(sum []byte) Option {
	return execOption("WithChecksum", func(c *execConfig) { c.checksum = slices.Clone(sum) })
}

// WithAutoMTLS turns on automatic mutual TLS: one-time certificates on each
// side, exchanged through the environment and the handshake line, new for
// every launched process. Exec targets only.
func WithAutoMTLS() Option {
	return execOption("WithAutoMTLS", func(c *execConfig) { c.autoMTLS = true })
}

// WithOutliveHost lets a launched plugin keep running after the host exits,
// for hosts that re-adopt their plugins after a restart. Exec targets only.
func WithOutliveHost() Option {
	return execOption("WithOutliveHost", func(c *execConfig) { c.outlive = true })
}

// WithSpool sends the plugin's stdout and stderr to spool files in dir
// (dir/stdout and dir/stderr, created 0600; dir must exist) instead of
// pipes, appending to what earlier processes left there. The host follows
// them as it would follow the pipes. Nothing the plugin prints is lost
// while no host reads, and a plugin that outlives its host does not die of
// SIGPIPE: a host that attaches later (Attach, with the ReattachConfig,
// which records how far its output was read) goes on from there. Meant
// with WithOutliveHost. Exec targets only.
func WithSpool(dir string) Option {
	return execOption("WithSpool", func(c *execConfig) { c.spoolDir = dir })
}

// WithRestart has the exec runtime start the plugin again whenever its
// process exits while the client is open, with a backoff from 50 ms
// doubling to 5 s. The client, and every stub dispensed from it, keeps
// working: the new process's socket is fed to the same connection, and it
// takes calls once it has answered Describe with the versions negotiated
// at the start. Meanwhile calls fail fast with ErrUnavailable, or wait
// with WithWaitForReady. (Restart budgets, health-based restarts and
// re-adoption are the supervise package's.) Exec targets only.
func WithRestart() Option { return execOption("WithRestart", func(c *execConfig) { c.restart = true }) }
