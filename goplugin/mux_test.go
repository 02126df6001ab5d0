package goplugin

import (
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"google.golang.org/grpc"

	"github.com/tetherplug/tether/internal/execruntime"
	gpwire "github.com/tetherplug/tether/internal/goplugin"
)

// fakePluginStream is the plugin's end of a broker stream: it acknowledges
// every knock of the host's.
type fakePluginStream struct {
	grpc.ClientStream // not used
	toHost            chan gpwire.ConnInfo
	acks              chan gpwire.ConnInfo // the host's acknowledgements of knocks
	stop              chan struct{}
	once              sync.Once
}

func (s *fakePluginStream) Send(m *gpwire.ConnInfo) error {
	if k := m.Knock; k != nil && k.Knock && !k.Ack {
		s.toHost <- gpwire.ConnInfo{ServiceID: m.ServiceID, Knock: &gpwire.Knock{Knock: true, Ack: true}}
	} else if k != nil && k.Ack {
		s.acks <- *m
	}
	return nil
}

func (s *fakePluginStream) Recv() (*gpwire.ConnInfo, error) {
	var m gpwire.ConnInfo
	err := s.RecvMsg(&m)
	return &m, err
}

func (s *fakePluginStream) RecvMsg(m any) error {
	select {
	case v := <-s.toHost:
		*m.(*gpwire.ConnInfo) = v
		return nil
	case <-s.stop:
		return io.EOF
	}
}

// fakeMuxPlugin starts a multiplexed broker over a real yamux session whose
// plugin side accepts every stream and closes it when the host does. It
// returns the broker, the host's session, the plugin's session and the
// plugin's stream.
func fakeMuxPlugin(t *testing.T) (*GRPCBroker, *yamux.Session, *yamux.Session, *fakePluginStream) {
	t.Helper()
	hostEnd, pluginEnd := net.Pipe()
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = nil
	cfg.Logger = log.New(io.Discard, "", 0)
	host, err := yamux.Client(hostEnd, cfg)
	if err != nil {
		t.Fatal(err)
	}
	plugin, err := yamux.Server(pluginEnd, cfg)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			s, err := plugin.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, s); _ = s.Close() }()
		}
	}()
	stream := &fakePluginStream{toHost: make(chan gpwire.ConnInfo, 8), acks: make(chan gpwire.ConnInfo, 8), stop: make(chan struct{})}
	b := startBroker("fake", execruntime.BrokerEnv{Network: "unix", Session: host}, stream,
		func() { stream.once.Do(func() { close(stream.stop) }) })
	t.Cleanup(func() {
		_ = b.Close()
		_ = host.Close()
		_ = plugin.Close()
	})
	return b, host, plugin, stream
}

// A multiplexed Dial opens its stream at once (so that it can fail with
// ErrDialTimeout); a connection closed before any call must not keep that
// stream open for the session's life.
func TestMuxDialClosedUnusedFreesStream(t *testing.T) {
	b, host, _, _ := fakeMuxPlugin(t)
	for range 3 {
		conn, err := b.Dial(b.NextId())
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Close(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(DialTimeout + 5*time.Second)
	for host.NumStreams() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d yamux streams still open after their connections were closed unused", host.NumStreams())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A stream the plugin opened for an id (after knocking) that the host's
// listener had not accepted yet is closed when the listener closes.
func TestMuxListenerCloseClosesQueuedStreams(t *testing.T) {
	b, _, plugin, stream := fakeMuxPlugin(t)
	id := b.NextId()
	ln, err := b.Accept(id)
	if err != nil {
		t.Fatal(err)
	}
	stream.toHost <- gpwire.ConnInfo{ServiceID: id, Knock: &gpwire.Knock{Knock: true}}
	select {
	case ack := <-stream.acks:
		if ack.ServiceID != id || ack.Knock.Error != "" {
			t.Fatalf("the host acknowledged %+v, want id %d without error", ack, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the host did not acknowledge the knock")
	}
	s, err := plugin.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	queued := ln.(*muxListener).conns
	for deadline := time.Now().Add(10 * time.Second); len(queued) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the host did not queue the plugin's stream for its listener")
		}
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the plugin's stream after the host's listener closed: read %v, want io.EOF (closed by the host)", err)
	}
}
