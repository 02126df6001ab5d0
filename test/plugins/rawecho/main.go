// Command rawecho is the baseline tether's benchmarks compare against: the
// Echo service on a plain grpc.NewServer, with none of tether's services or
// handshake. It listens on the Unix socket path given as its first argument,
// prints "ready" on stdout once it accepts connections, and serves until it
// is signalled.
//
// With a second argument, the path of a Unix socket where the host serves
// Echo, it relays every call to the host over a second connection of its
// own (plugintest.Relay): the way a plain gRPC plugin calls back its host.
//
// With -listen it serves on that TCP address instead, with mutual TLS: the
// server certificate and key of -tls-cert and -tls-key, and client
// certificates verified against the CA bundle of -client-ca (all required).
// It then prints "ready ADDR", the address it listens on. With -keepalive
// as well it pings its clients and accepts their pings as a tether network
// plugin does (the same transport settings, for a like-for-like baseline).
//
//	rawecho /tmp/dir/echo.sock [/tmp/dir/host.sock]
//	rawecho -listen 127.0.0.1:0 -tls-cert server.crt -tls-key server.key -client-ca ca.crt
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

func main() {
	listen := flag.String("listen", "", "serve on this TCP address with mutual TLS instead of a Unix socket")
	certFile := flag.String("tls-cert", "", "server certificate (PEM), with -listen")
	keyFile := flag.String("tls-key", "", "server private key (PEM), with -listen")
	caFile := flag.String("client-ca", "", "CA bundle client certificates must chain to (PEM), with -listen")
	alive := flag.Bool("keepalive", false, "with -listen, keepalive as a tether network plugin has it")
	flag.Parse()
	if *listen != "" {
		if err := serveTLS(*listen, *certFile, *keyFile, *caFile, *alive); err != nil {
			fmt.Fprintln(os.Stderr, "rawecho:", err)
			os.Exit(1)
		}
		return
	}
	args := flag.Args()
	if len(args) != 1 && len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rawecho SOCKET [HOST-SOCKET] | rawecho -listen ADDR -tls-cert F -tls-key F -client-ca F")
		os.Exit(2)
	}
	lis, err := net.Listen("unix", args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawecho:", err)
		os.Exit(1)
	}
	var impl echov1.EchoServer = plugintest.EchoServer{}
	if len(args) == 2 {
		conn, err := grpc.NewClient("unix://"+args[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			fmt.Fprintln(os.Stderr, "rawecho:", err)
			os.Exit(1)
		}
		defer conn.Close()
		impl = plugintest.Relay{Host: echov1.NewEchoClient(conn), Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	}
	srv := grpc.NewServer()
	echov1.RegisterEchoServer(srv, impl)
	fmt.Println("ready")
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "rawecho:", err)
		os.Exit(1)
	}
}

// serveTLS serves Echo on addr with mutual TLS until the process is
// signalled.
func serveTLS(addr, certFile, keyFile, caFile string, alive bool) error {
	if certFile == "" || keyFile == "" || caFile == "" {
		return errors.New("-listen needs -tls-cert, -tls-key and -client-ca")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	opts := []grpc.ServerOption{grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}))}
	if alive {
		opts = append(opts, grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
			grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}))
	}
	srv := grpc.NewServer(opts...)
	echov1.RegisterEchoServer(srv, plugintest.EchoServer{})
	fmt.Println("ready", lis.Addr().String())
	return srv.Serve(lis)
}
