package tether

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/tethertest"
)

// connEcho answers with the number of the connection the call came on.
type connEcho struct{ echov1.UnimplementedEchoServer }

func (connEcho) Unary(ctx context.Context, _ *echov1.Message) (*echov1.Message, error) {
	id, ok := connID(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "call carries no connection number")
	}
	return &echov1.Message{Text: strconv.FormatUint(id, 10)}, nil
}

// TestServerNumbersEachConnection checks what callbacks rely on to answer
// the right host: every call on one connection sees the same number, and
// another connection sees another.
func TestServerNumbersEachConnection(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv := NewServer(ServeConfig{Logger: slog.New(slog.DiscardHandler)})
	echov1.RegisterEchoServer(srv.GRPCServer(), connEcho{})
	sock := filepath.Join(t.TempDir(), "s.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() { srv.GRPCServer().Stop(); tethertest.Recv(t, served, 10*time.Second) }()

	seen := map[string]bool{}
	for range 2 {
		conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for range 2 {
			m, err := echov1.NewEchoClient(conn).Unary(context.Background(), &echov1.Message{})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.GetText())
		}
		conn.Close()
		if ids[0] != ids[1] {
			t.Errorf("two calls on one connection saw numbers %s and %s", ids[0], ids[1])
		}
		if seen[ids[0]] {
			t.Errorf("two connections share number %s", ids[0])
		}
		seen[ids[0]] = true
	}
}
