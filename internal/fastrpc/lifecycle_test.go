package fastrpc

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

// TestServerKilledMidCall: a server process that dies fails the calls in
// flight with Unavailable at once, not at their deadline.
func TestServerKilledMidCall(t *testing.T) {
	path := sockPath(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serverSockEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // our own child
		recvCtx(t, exited, 5*time.Second, "child exit")
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- line
	}()
	if line := recvCtx(t, ready, 10*time.Second, "ready line from the server process"); strings.TrimSpace(line) != "ready" {
		t.Fatalf("server process said %q", line)
	}
	cc := Dial("unix", path)
	defer cc.Close()
	c := echov1.NewEchoClient(cc)
	ctx := ctxTimeout(t, time.Minute)
	if _, err := c.Unary(ctx, &echov1.Message{}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 2)
	go func() {
		_, err := c.Unary(ctx, &echov1.Message{DelayMs: 60_000})
		errc <- err
	}()
	s, err := c.Bidi(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The stream is live on the server: one echo came back.
	if err := s.Send(&echov1.Message{Text: "live"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := s.Recv()
		errc <- err
	}()
	killed := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		wantCode(t, recvCtx(t, errc, 5*time.Second, "failed call after the kill"), codes.Unavailable)
	}
	if d := time.Since(killed); d > 2*time.Second {
		t.Fatalf("calls failed %v after the kill, want within 2s", d)
	}
	// A new call fails fast too: nothing listens any more.
	_, err = c.Unary(ctx, &echov1.Message{})
	wantCode(t, err, codes.Unavailable)
}

func TestGracefulStopDrainsInFlight(t *testing.T) {
	impl := newTestEcho()
	cc, srv := startServer(t, impl, nil)
	c := echov1.NewEchoClient(cc)
	ctx := ctxTimeout(t, 10*time.Second)
	if _, err := c.Unary(ctx, &echov1.Message{}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Unary(ctx, &echov1.Message{Text: "stuck"})
		errc <- err
	}()
	recvCtx(t, impl.entered, 5*time.Second, "call reaching the handler")
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop(ctxTimeout(t, 10*time.Second)) }()
	// New calls are refused while the old one drains.
	waitFor(t, func() bool {
		_, err := c.Unary(ctx, &echov1.Message{})
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v with a call in flight", err)
	default:
	}
	close(impl.release)
	if err := recvCtx(t, errc, 5*time.Second, "the drained call"); err != nil {
		t.Fatalf("the call in flight during Stop: %v", err)
	}
	if err := recvCtx(t, stopped, 5*time.Second, "Stop returning"); err != nil {
		t.Fatal(err)
	}
}

func TestStopIsBounded(t *testing.T) {
	impl := newTestEcho()
	t.Cleanup(func() { close(impl.release) })
	cc, srv := startServer(t, impl, nil)
	c := echov1.NewEchoClient(cc)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Unary(ctxTimeout(t, 10*time.Second), &echov1.Message{Text: "stuck"})
		errc <- err
	}()
	hctx := recvCtx(t, impl.entered, 5*time.Second, "call reaching the handler")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := srv.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop with a stuck handler: %v, want DeadlineExceeded", err)
	}
	wantCode(t, recvCtx(t, errc, 5*time.Second, "call result after Stop"), codes.Unavailable)
	recvCtx(t, hctx.Done(), 5*time.Second, "handler context ending")
}

func TestDialNonFastrpcPeerFailsClearly(t *testing.T) {
	path := sockPath(t)
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		nc, err := lis.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		_, _ = nc.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
		_, _ = bufio.NewReader(nc).ReadString(0)
	}()
	cc := Dial("unix", path)
	defer cc.Close()
	_, err = echov1.NewEchoClient(cc).Unary(ctxTimeout(t, 5*time.Second), &echov1.Message{})
	if st := wantCode(t, err, codes.Unavailable); !strings.Contains(st.Message(), "not a fastrpc endpoint") {
		t.Fatalf("message %q, want it to say the peer is not a fastrpc endpoint", st.Message())
	}
}

func TestClosedClientConn(t *testing.T) {
	cc, _ := startServer(t, newTestEcho(), nil)
	c := echov1.NewEchoClient(cc)
	ctx := ctxTimeout(t, 5*time.Second)
	if _, err := c.Unary(ctx, &echov1.Message{}); err != nil {
		t.Fatal(err)
	}
	cc.Close()
	_, err := c.Unary(ctx, &echov1.Message{})
	wantCode(t, err, codes.Canceled)
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
