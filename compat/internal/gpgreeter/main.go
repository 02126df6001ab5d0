// Command gpgreeter is a greeter plugin written with hashicorp/go-plugin in
// gRPC mode, for tether's interoperability tests. On each greeting it
// prints a line on stdout and one on stderr, which go-plugin carries to the
// host through its stdio stream. Greeting "logs" also writes JSON log records
// on stderr: one longer than go-plugin's 1 KiB reads, then two in one write.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/go-plugin"

	"github.com/tetherplug/tether/compat/internal/shared"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
)

type greeter struct {
	greeterv1.UnimplementedGreeterServer
}

func (greeter) Greet(_ context.Context, req *greeterv1.GreetRequest) (*greeterv1.GreetResponse, error) {
	fmt.Fprintf(os.Stdout, "gpgreeter stdout: greeting %s\n", req.GetName())
	fmt.Fprintf(os.Stderr, "gpgreeter stderr: greeting %s\n", req.GetName())
	if req.GetName() == "logs" {
		fmt.Fprintf(os.Stderr, `{"level":"WARN","msg":"long record","filler":"%s"}`+"\n", strings.Repeat("x", 3000))
		fmt.Fprint(os.Stderr, `{"level":"ERROR","msg":"first short record"}`+"\n"+`{"level":"INFO","msg":"second short record"}`+"\n")
	}
	return &greeterv1.GreetResponse{Message: fmt.Sprintf("Howdy, %s!", req.GetName())}, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: shared.Handshake,
		Plugins:         shared.Plugins(greeter{}),
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
