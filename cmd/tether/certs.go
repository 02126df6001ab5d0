package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tetherplug/tether/internal/certs"
)

func init() { register(newCertsCmd) }

func newCertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs ca|server|client [flags]",
		Short: "Issue the certificates of mutual TLS: a CA, server and client certificates",
		Long: `certs makes a certificate authority and the server and client certificates it
signs, as PEM files, for mutual TLS between network hosts and plugins: ECDSA
P-256 keys, a CA valid for 5 years, leaf certificates for 1 year (--days to
change it; never past the CA's end). Certificates are written with mode 0644,
private keys (PKCS #8) with 0600, each atomically; existing files are kept
unless --force.`,
		Example: `  tether certs ca --dir ./pki
  tether certs server --dir ./pki --ca-dir ./pki --name greeter --dns localhost,greeter.svc --ip 127.0.0.1
  tether certs client --dir ./pki --ca-dir ./pki --name host-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("certs needs a subcommand: ca, server or client (see tether certs --help)")
		},
	}
	cmd.AddCommand(newCertsCACmd(), newCertsServerCmd(), newCertsClientCmd())
	return cmd
}

// certsFlags are the flags the certs subcommands share.
type certsFlags struct {
	dir, caDir, name string
	days             int
	force            bool
}

func (f *certsFlags) add(cmd *cobra.Command, defaultDays int, leaf bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", "", "directory to write the files into (created if missing)")
	fl.IntVar(&f.days, "days", defaultDays, "days the certificate is valid")
	fl.BoolVar(&f.force, "force", false, "replace existing files")
	_ = cmd.MarkFlagRequired("dir")
	if leaf {
		fl.StringVar(&f.caDir, "ca-dir", "", "directory holding the signing CA's ca.crt and ca.key")
		fl.StringVar(&f.name, "name", "", "the certificate's common name, and its files' NAME.crt and NAME.key")
		_ = cmd.MarkFlagRequired("ca-dir")
		_ = cmd.MarkFlagRequired("name")
	}
}

func (f *certsFlags) lifetime() (time.Duration, error) {
	if f.days <= 0 {
		return 0, fmt.Errorf("--days must be positive, got %d", f.days)
	}
	return time.Duration(f.days) * 24 * time.Hour, nil
}

func newCertsCACmd() *cobra.Command {
	f := &certsFlags{}
	cmd := &cobra.Command{
		Use:   "ca --dir DIR [--name NAME] [--days N] [--force]",
		Short: "Create a certificate authority: DIR/ca.crt and DIR/ca.key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lifetime, err := f.lifetime()
			if err != nil {
				return err
			}
			ca, err := certs.NewCA(f.name, lifetime)
			if err != nil {
				return err
			}
			return writePair(cmd.OutOrStdout(), ca, f.dir, "ca", f.force, "")
		},
	}
	f.add(cmd, int(certs.CALifetime/(24*time.Hour)), false)
	cmd.Flags().StringVar(&f.name, "name", "tether CA", "the CA's common name")
	return cmd
}

func newCertsServerCmd() *cobra.Command {
	f := &certsFlags{}
	var dnsNames, ips []string
	cmd := &cobra.Command{
		Use:   "server --dir DIR --ca-dir CADIR --name NAME [--dns NAME,...] [--ip ADDR,...] [--days N] [--force]",
		Short: "Issue a server certificate signed by the CA: DIR/NAME.crt and DIR/NAME.key",
		Long: `server issues a certificate for a TLS server (extended key usage server auth)
reachable under the --dns names and --ip addresses (at least one of them),
signed by the CA in CADIR.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addrs, err := parseIPs(ips)
			if err != nil {
				return err
			}
			return issueLeaf(cmd.OutOrStdout(), f, func(ca *certs.Pair, lifetime time.Duration) (*certs.Pair, error) {
				if len(dnsNames) == 0 && len(addrs) == 0 {
					return nil, errors.New("a server certificate needs at least one --dns name or --ip address")
				}
				return ca.IssueServer(f.name, dnsNames, addrs, lifetime)
			})
		},
	}
	f.add(cmd, int(certs.LeafLifetime/(24*time.Hour)), true)
	cmd.Flags().StringSliceVar(&dnsNames, "dns", nil, "DNS name(s) the server is reached under (comma-separated or repeated)")
	cmd.Flags().StringSliceVar(&ips, "ip", nil, "IP address(es) the server is reached under (comma-separated or repeated)")
	return cmd
}

func newCertsClientCmd() *cobra.Command {
	f := &certsFlags{}
	cmd := &cobra.Command{
		Use:   "client --dir DIR --ca-dir CADIR --name NAME [--days N] [--force]",
		Short: "Issue a client certificate signed by the CA: DIR/NAME.crt and DIR/NAME.key",
		Long: `client issues a certificate for a TLS client (extended key usage client auth)
with common name NAME, signed by the CA in CADIR.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return issueLeaf(cmd.OutOrStdout(), f, func(ca *certs.Pair, lifetime time.Duration) (*certs.Pair, error) {
				return ca.IssueClient(f.name, lifetime)
			})
		},
	}
	f.add(cmd, int(certs.LeafLifetime/(24*time.Hour)), true)
	return cmd
}

// issueLeaf loads the CA of f.caDir, issues a certificate with issue and
// writes it as f.dir/f.name.crt and .key.
func issueLeaf(out io.Writer, f *certsFlags, issue func(*certs.Pair, time.Duration) (*certs.Pair, error)) error {
	if err := checkFileName(f.name); err != nil {
		return err
	}
	lifetime, err := f.lifetime()
	if err != nil {
		return err
	}
	ca, err := loadCA(f.caDir)
	if err != nil {
		return err
	}
	leaf, err := issue(ca, lifetime)
	if err != nil {
		return err
	}
	return writePair(out, leaf, f.dir, f.name, f.force, f.caDir)
}

// loadCA loads CADIR/ca.crt and CADIR/ca.key, saying how to make them when
// they are missing.
func loadCA(caDir string) (*certs.Pair, error) {
	ca, err := certs.LoadCA(filepath.Join(caDir, "ca.crt"), filepath.Join(caDir, "ca.key"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no CA in %s: %w (create one with: tether certs ca --dir %s)", caDir, err, caDir)
	}
	if err != nil {
		return nil, fmt.Errorf("loading the CA in %s: %w", caDir, err)
	}
	return ca, nil
}

// writePair writes p to dir/base.crt and dir/base.key, refusing to replace
// the CA of caDir (when not "") even with force, and prints what it wrote.
func writePair(out io.Writer, p *certs.Pair, dir, base string, force bool, caDir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	crt, key := filepath.Join(dir, base+".crt"), filepath.Join(dir, base+".key")
	if caDir != "" && sameFile(crt, filepath.Join(caDir, "ca.crt")) {
		return fmt.Errorf("%s is the CA's own certificate: choose another --name or --dir", crt)
	}
	if err := p.WriteFiles(crt, key, force); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w (keeping it; --force replaces it)", err)
		}
		return err
	}
	fmt.Fprintf(out, "wrote %s and %s (%q, valid until %s)\n", crt, key,
		p.Cert.Subject.CommonName, p.Cert.NotAfter.UTC().Format(time.DateOnly))
	return nil
}

// sameFile reports whether a and b name one existing file.
func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// checkFileName refuses a --name that is not a plain file name.
func checkFileName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, "-") {
		return fmt.Errorf("--name %q cannot name files NAME.crt and NAME.key: use a plain name such as greeter", name)
	}
	return nil
}

// parseIPs parses the --ip values, naming the first that is not an address.
func parseIPs(values []string) ([]net.IP, error) {
	var ips []net.IP
	for _, v := range values {
		ip := net.ParseIP(strings.TrimSpace(v))
		if ip == nil {
			return nil, fmt.Errorf("--ip %q is not an IP address", v)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}
