package catalog_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/catalog"
	"github.com/tetherplug/tether/discover"
	"github.com/tetherplug/tether/tethertest"
)

const benchPlugins = 100

// BenchmarkLoad100 loads 100 copies of a plugin through a catalog and, in
// the same run, through raw exec plus grpc-go (start, read the handshake
// line, dial, one health check: the least any loader must do), then closes
// them. It reports milliseconds per load of 100 for each, their ratio, the
// host heap the loaded catalog holds per plugin and each plugin's resident
// memory.
func BenchmarkLoad100(b *testing.B) {
	bin := tethertest.Build(b, greeterEn)
	plugins := make([]discover.Plugin, benchPlugins)
	for i := range plugins {
		plugins[i] = discover.Plugin{Name: "greeter-" + strconv.Itoa(i), Path: bin}
	}
	cfg := catalog.Config{Handshake: greeterHandshake}
	ctx := context.Background()

	var tetherTime, rawTime time.Duration
	var heapPerPlugin, rssPerPlugin float64
	for i := 0; i < b.N; i++ {
		before := liveHeap()
		start := time.Now()
		cat := catalog.Load(ctx, plugins, cfg)
		tetherTime += time.Since(start)
		if err := cat.Err(); err != nil {
			b.Fatal(err)
		}
		heapPerPlugin += float64(liveHeap()-before) / benchPlugins
		rssPerPlugin += totalRSS(cat) / benchPlugins
		_ = cat.Close()

		start = time.Now()
		raw, err := rawLoad(ctx, bin, benchPlugins, 4*runtime.GOMAXPROCS(0))
		rawTime += time.Since(start)
		raw.close()
		if err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(tetherTime.Milliseconds())/n, "tether-ms/100")
	b.ReportMetric(float64(rawTime.Milliseconds())/n, "raw-grpc-ms/100")
	b.ReportMetric(float64(tetherTime)/float64(rawTime), "tether/raw")
	b.ReportMetric(heapPerPlugin/n/1024, "host-heap-KiB/plugin")
	b.ReportMetric(rssPerPlugin/n/(1<<20), "plugin-RSS-MiB/plugin")
}

// liveHeap is the bytes of live heap objects, after a collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// rawPlugins is the baseline loader's state: processes and connections.
type rawPlugins struct {
	mu    sync.Mutex
	cmds  []*exec.Cmd
	conns []*grpc.ClientConn
}

func (r *rawPlugins) close() {
	for _, c := range r.conns {
		_ = c.Close()
	}
	for _, cmd := range r.cmds {
		if cmd.Process.Signal(syscall.SIGTERM) != nil { // Windows has no SIGTERM
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
	}
}

// rawLoad starts n copies of bin with the same bound on parallelism,
// without tether: exec, handshake line, grpc.NewClient, health check.
func rawLoad(ctx context.Context, bin string, n, limit int) (*rawPlugins, error) {
	r := &rawPlugins{}
	var g errgroup.Group
	g.SetLimit(limit)
	for range n {
		g.Go(func() error {
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(), tether.DefaultMagicCookieKey+"="+tether.DefaultMagicCookieValue, "PLUGIN_PROTOCOL_VERSIONS=1")
			out, err := cmd.StdoutPipe()
			if err != nil {
				return err
			}
			if err := cmd.Start(); err != nil {
				return err
			}
			r.mu.Lock()
			r.cmds = append(r.cmds, cmd)
			r.mu.Unlock()
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				return err
			}
			hl, err := tether.ParseHandshakeLine(line)
			if err != nil {
				return err
			}
			conn, err := grpc.NewClient("unix://"+hl.Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return err
			}
			r.mu.Lock()
			r.conns = append(r.conns, conn)
			r.mu.Unlock()
			_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: tether.HealthService}, grpc.WaitForReady(true))
			return err
		})
	}
	return r, g.Wait()
}
