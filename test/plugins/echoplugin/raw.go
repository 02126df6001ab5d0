package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/autotls"
)

// serveStubborn is a plugin that will not stop: it ignores SIGTERM and
// SIGHUP, and although its controller answers Shutdown, nothing acts on it.
func serveStubborn(cfg tether.ServeConfig) {
	signal.Ignore(syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT)
	// Deaf to its host, but not left behind if the test binary dies.
	go func(parent int) {
		for range time.Tick(100 * time.Millisecond) {
			if os.Getppid() != parent {
				os.Exit(1)
			}
		}
	}(os.Getppid())
	lis := listen()
	srv := tether.NewServer(cfg)
	handshake(lis, nil)
	fail(srv.Serve(lis))
}

// serveDeaf prints a valid handshake line for a socket it never accepts on.
func serveDeaf() {
	lis := listen()
	defer lis.Close()
	handshake(lis, nil)
	time.Sleep(time.Hour)
}

// serveQuickExit prints a valid handshake line, says why on stderr and
// exits at once, before any host could connect.
func serveQuickExit() {
	lis := listen()
	handshake(lis, nil)
	fmt.Fprintln(os.Stderr, "echoplugin: quitting right after the handshake")
	lis.Close()
	os.Exit(4)
}

// serveElsewhere prints a handshake line naming a TCP address on another
// machine (TEST-NET-1, which nothing answers), then waits.
func serveElsewhere() {
	fmt.Println("1|1|tcp|192.0.2.1:1234|grpc|")
	time.Sleep(time.Hour)
}

// serveWrongCert serves TLS with one certificate but prints another on its
// handshake line, as a plugin whose certificate was tampered with would.
func serveWrongCert(cfg tether.ServeConfig) {
	served, _, err := autotls.Generate()
	if err != nil {
		fail(err)
	}
	printed, _, err := autotls.Generate()
	if err != nil {
		fail(err)
	}
	lis := listen()
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{served}, MinVersion: tls.VersionTLS12})
	srv := tether.NewServer(cfg, grpc.Creds(creds))
	handshake(lis, printed.Certificate[0])
	fail(srv.Serve(lis))
}

// serveUnaskedCert serves TLS with a certificate of its own and prints it on
// the handshake line, although the host sent no certificate.
func serveUnaskedCert(cfg tether.ServeConfig) {
	own, _, err := autotls.Generate()
	if err != nil {
		fail(err)
	}
	lis := listen()
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{own}, MinVersion: tls.VersionTLS12})
	srv := tether.NewServer(cfg, grpc.Creds(creds))
	handshake(lis, own.Certificate[0])
	fail(srv.Serve(lis))
}

func listen() net.Listener {
	dir := os.Getenv(tether.EnvUnixSocketDir)
	if dir == "" {
		dir = os.TempDir()
	}
	lis, err := net.Listen("unix", filepath.Join(dir, fmt.Sprintf("raw-%d.sock", os.Getpid())))
	if err != nil {
		fail(err)
	}
	return lis
}

func handshake(lis net.Listener, cert []byte) {
	line := tether.HandshakeLine{CoreVersion: tether.CoreProtocolVersion, AppVersion: 1,
		Network: "unix", Address: lis.Addr().String(), Protocol: "grpc", ServerCert: cert}
	fmt.Println(line.String())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "echoplugin:", err)
	os.Exit(1)
}
