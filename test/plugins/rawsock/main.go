// Command rawsock is the floor tether's fast-transport benchmarks compare
// against: the least a call to another process on the same machine can
// cost. It listens on the Unix socket path given as its only argument,
// prints "ready" on stdout once it accepts connections, and on every
// connection echoes length-prefixed messages (a 4-byte big-endian length,
// then that many bytes, at most MaxMessage) until the peer closes it or the
// process is signalled. No framing beyond the length, no protobuf, no
// multiplexing: one call at a time per connection.
//
//	rawsock /tmp/dir/floor.sock
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
)

// MaxMessage bounds a message's length: a longer prefix closes the
// connection instead of allocating it.
const MaxMessage = 1 << 20

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rawsock SOCKET")
		os.Exit(2)
	}
	lis, err := net.Listen("unix", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawsock:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	for {
		conn, err := lis.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "rawsock:", err)
			os.Exit(1)
		}
		go echo(conn)
	}
}

// echo answers each message on conn with the same bytes, in one write.
func echo(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	buf := make([]byte, 4, 4+64)
	for {
		if _, err := io.ReadFull(r, buf[:4]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(buf[:4])
		if n > MaxMessage {
			fmt.Fprintf(os.Stderr, "rawsock: a message of %d bytes, more than %d\n", n, MaxMessage)
			return
		}
		buf = slices.Grow(buf[:4], int(n))[:4+n]
		if _, err := io.ReadFull(r, buf[4:]); err != nil {
			return
		}
		if _, err := conn.Write(buf); err != nil {
			return
		}
	}
}
