// Command sessionhost is a host for tests of callback routing: it connects
// to a callback plugin (internal/plugintest/callbackplugin, or any plugin
// serving plugintest.Relay) at a gRPC target, provides an Echo callback
// service that answers with its tag, calls the plugin's Echo.Unary N times
// (each answered by a callback) and prints one line:
//
//	calls=N wrong=W failed=F
//
// where wrong counts answers that carried another host's tag (a callback
// that reached another host) and failed counts calls that failed. It exits
// 1 if W or F is not 0.
//
//	sessionhost -target unix:///path/proxy.sock -tag A [-n 1000]
//
// It speaks the host side of docs/protocol.md by hand (session id on every
// call, one Callbacks/Tunnel stream); connect is the one place to replace
// with tether.Open and tether.WithCallbacks once they exist.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/tunnel"
)

// tagEcho is the host's callback service: it answers TAG:TEXT.
type tagEcho struct {
	echov1.UnimplementedEchoServer
	tag string
}

func (e tagEcho) Unary(_ context.Context, m *echov1.Message) (*echov1.Message, error) {
	return &echov1.Message{Text: e.tag + ":" + m.GetText()}, nil
}

func main() {
	target := flag.String("target", "", "gRPC target of the plugin (or of a proxy in front of it)")
	tag := flag.String("tag", "", "this host's tag, in every callback answer")
	n := flag.Int("n", 1000, "calls to make")
	flag.Parse()
	if *target == "" || *tag == "" || strings.Contains(*tag, ":") {
		fmt.Fprintln(os.Stderr, "usage: sessionhost -target TARGET -tag TAG (no ':') [-n N]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	echo, closeFn, err := connect(ctx, *target, tagEcho{tag: *tag})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sessionhost:", err)
		os.Exit(1)
	}
	defer closeFn()
	wrong, failed := 0, 0
	for i := range *n {
		text := fmt.Sprint(i)
		m, err := echo.Unary(ctx, &echov1.Message{Text: text})
		switch {
		case err != nil:
			failed++
			if failed <= 3 {
				fmt.Fprintln(os.Stderr, "sessionhost: call", i, err)
			}
		case m.GetText() != "plugin:"+*tag+":"+text:
			wrong++
			if wrong <= 3 {
				fmt.Fprintf(os.Stderr, "sessionhost %s: call %d answered %q\n", *tag, i, m.GetText())
			}
		}
	}
	fmt.Printf("calls=%d wrong=%d failed=%d\n", *n, wrong, failed)
	if wrong != 0 || failed != 0 {
		closeFn()
		os.Exit(1)
	}
}

// connect opens a host session to target with callbacks served by cb and
// returns the plugin's Echo client once the tunnel is open.
func connect(ctx context.Context, target string, cb echov1.EchoServer) (echov1.EchoClient, func(), error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	session := hex.EncodeToString(b[:])
	withSession := func(ctx context.Context) context.Context {
		return metadata.AppendToOutgoingContext(ctx, tether.SessionMetadataKey, session)
	}
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, inv grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return inv(withSession(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, d *grpc.StreamDesc, cc *grpc.ClientConn, method string, s grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return s(withSession(ctx), d, cc, method, opts...)
		}))
	if err != nil {
		return nil, nil, err
	}
	if _, err := tetherv1.NewPluginClient(cc).Describe(ctx, &tetherv1.DescribeRequest{}, grpc.WaitForReady(true)); err != nil {
		cc.Close()
		return nil, nil, fmt.Errorf("describe: %w", err)
	}
	sctx, stop := context.WithCancel(context.Background())
	stream, err := tetherv1.NewCallbacksClient(cc).Tunnel(sctx)
	if err != nil {
		stop()
		cc.Close()
		return nil, nil, fmt.Errorf("tunnel: %w", err)
	}
	srv := grpc.NewServer()
	echov1.RegisterEchoServer(srv, cb)
	lis := tunnel.NewListener()
	go func() { _ = srv.Serve(lis) }()
	_ = lis.Put(tunnel.NewConn(stream, stop, tunnel.Addr{Name: "host"}, tunnel.Addr{Name: "plugin"}))
	closeFn := func() { stop(); srv.Stop(); cc.Close() }
	return echov1.NewEchoClient(cc), closeFn, nil
}
