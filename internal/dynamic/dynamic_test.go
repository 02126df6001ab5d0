package dynamic_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tetherplug/tether/internal/dynamic"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoConn serves the echo service on loopback and connects to it.
func echoConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	echov1.RegisterEchoServer(srv, plugintest.EchoServer{})
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return conn
}

func method(name string) protoreflect.MethodDescriptor {
	return echov1.File_tether_echo_v1_echo_proto.Services().ByName("Echo").Methods().ByName(protoreflect.Name(name))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// call runs a method with JSON input and returns the output lines.
func call(t *testing.T, conn grpc.ClientConnInterface, name, input string) ([]string, error) {
	t.Helper()
	var out bytes.Buffer
	err := dynamic.Call(ctx(t), conn, method(name), dynamic.JSONSource(strings.NewReader(input), nil),
		dynamic.JSONSink(&out, nil, false, false))
	return strings.Split(strings.TrimSpace(out.String()), "\n"), err
}

func decode(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("output line %q is not JSON: %v", line, err)
	}
	return m
}

func TestKinds(t *testing.T) {
	for name, want := range map[string]dynamic.Kind{
		"Unary": dynamic.Unary, "ServerStream": dynamic.ServerStreaming,
		"ClientStream": dynamic.ClientStreaming, "Bidi": dynamic.BidiStreaming,
	} {
		if got := dynamic.KindOf(method(name)); got != want {
			t.Errorf("KindOf(%s) = %s, want %s", name, got, want)
		}
	}
	if got := dynamic.FullMethod(method("Bidi")); got != "/tether.echo.v1.Echo/Bidi" {
		t.Errorf("FullMethod = %s", got)
	}
}

func TestFourShapes(t *testing.T) {
	conn := echoConn(t)
	lines, err := call(t, conn, "Unary", `{"text": "Ada", "payload": "AAE="}`)
	if err != nil || len(lines) != 1 || decode(t, lines[0])["text"] != "Ada" || decode(t, lines[0])["payload"] != "AAE=" {
		t.Errorf("Unary: %q, %v", lines, err)
	}
	lines, err = call(t, conn, "ServerStream", `{"text": "s", "count": 3}`)
	if err != nil || len(lines) != 3 {
		t.Errorf("ServerStream: %q, %v; want 3 lines", lines, err)
	}
	lines, err = call(t, conn, "ClientStream", "{\"text\":\"a\"}\n{\"text\":\"b\"}\n{\n \"text\": \"c\"\n}\n")
	if err != nil || len(lines) != 1 || decode(t, lines[0])["text"] != "abc" || decode(t, lines[0])["count"] != 3.0 {
		t.Errorf("ClientStream: %q, %v; want one line with text abc, count 3", lines, err)
	}
	lines, err = call(t, conn, "Bidi", "{\"text\":\"1\"}\n{\"text\":\"2\"}\n")
	if err != nil || len(lines) != 2 || decode(t, lines[1])["text"] != "2" {
		t.Errorf("Bidi: %q, %v", lines, err)
	}
	// No input at all is an empty request.
	lines, err = call(t, conn, "Unary", "")
	if err != nil || len(lines) != 1 || lines[0] != "{}" {
		t.Errorf("Unary with no input: %q, %v", lines, err)
	}
}

// TestBidiInteractive shows each response arrives before the next request
// is written, as a user typing at a terminal would see it.
func TestBidiInteractive(t *testing.T) {
	conn := echoConn(t)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- dynamic.Call(ctx(t), conn, method("Bidi"), dynamic.JSONSource(inR, nil), dynamic.JSONSink(outW, nil, false, false))
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	for _, text := range []string{"one", "two", "three"} {
		if _, err := io.WriteString(inW, `{"text":"`+text+`"}`+"\n"); err != nil {
			t.Fatal(err)
		}
		if !lines.Scan() {
			t.Fatalf("no response to %s", text)
		}
		if got := decode(t, lines.Text())["text"]; got != text {
			t.Fatalf("response %v, want %s", got, text)
		}
	}
	inW.Close()
	if err := tethertest.Recv(t, done, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	conn := echoConn(t)
	if _, err := call(t, conn, "Unary", `{"text":"a"} {"text":"b"}`); !errors.Is(err, dynamic.ErrOneRequest) {
		t.Errorf("two requests to a unary method: %v, want ErrOneRequest", err)
	}
	if _, err := call(t, conn, "Unary", `{"nope": 1}`); err == nil || !strings.Contains(err.Error(), "tether.echo.v1.Message") {
		t.Errorf("unknown field: %v, want an error naming the message type", err)
	}
	// A bad second message on a stream ends the call with the parse
	// error, not with the cancellation it causes.
	_, err := call(t, conn, "Bidi", "{\"text\":\"ok\"}\n{not json\n")
	if err == nil || !strings.Contains(err.Error(), "request 2") {
		t.Errorf("bad second request: %v, want an error naming request 2", err)
	}
	// The server's status comes back as it is.
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = dynamic.Call(short, conn, method("Unary"), dynamic.JSONSource(strings.NewReader(`{"delay_ms": 5000}`), nil),
		func(proto.Message) error { t.Error("unexpected response"); return nil })
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("call past its deadline: %v, want DeadlineExceeded", err)
	}
}

func TestMultilineSink(t *testing.T) {
	conn := echoConn(t)
	var out bytes.Buffer
	err := dynamic.Call(ctx(t), conn, method("Unary"), dynamic.JSONSource(strings.NewReader(`{"text":"x","count":2}`), nil),
		dynamic.JSONSink(&out, nil, true, true))
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"payload\": \"\",\n  \"count\": 2,\n  \"delayMs\": 0,\n  \"text\": \"x\"\n}\n"
	if out.String() != want {
		t.Errorf("multiline output with defaults = %q, want %q", out.String(), want)
	}
}
