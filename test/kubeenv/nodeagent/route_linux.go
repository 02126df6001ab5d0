//go:build linux

package nodeagent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"
)

// addLocalRoute makes every address of p local to this machine, as 127.0.0.0/8 is: a route of
// type local on the loopback interface in the local table (what `ip route add local P dev lo`
// does). It needs CAP_NET_ADMIN; a route that exists already is no error.
func addLocalRoute(p netip.Prefix) error {
	lo, err := loopbackInterface()
	if err != nil {
		return err
	}
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink bind: %w", err)
	}
	dst := p.Addr().As4()
	attr := func(typ uint16, data []byte) []byte {
		b := make([]byte, 4, 4+len(data)+3)
		binary.NativeEndian.PutUint16(b[0:], uint16(4+len(data)))
		binary.NativeEndian.PutUint16(b[2:], typ)
		b = append(b, data...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	oif := make([]byte, 4)
	binary.NativeEndian.PutUint32(oif, uint32(lo.Index))
	rt := syscall.RtMsg{Family: syscall.AF_INET, Dst_len: uint8(p.Bits()), Table: syscall.RT_TABLE_LOCAL,
		Protocol: syscall.RTPROT_BOOT, Scope: syscall.RT_SCOPE_HOST, Type: syscall.RTN_LOCAL}
	body := (*[syscall.SizeofRtMsg]byte)(unsafe.Pointer(&rt))[:]
	body = append(append(append([]byte{}, body...), attr(syscall.RTA_DST, dst[:])...), attr(syscall.RTA_OIF, oif)...)
	hdr := syscall.NlMsghdr{Len: uint32(syscall.SizeofNlMsghdr + len(body)), Type: syscall.RTM_NEWROUTE,
		Flags: syscall.NLM_F_REQUEST | syscall.NLM_F_CREATE | syscall.NLM_F_EXCL | syscall.NLM_F_ACK, Seq: 1}
	msg := append((*[syscall.SizeofNlMsghdr]byte)(unsafe.Pointer(&hdr))[:], body...)
	if err := syscall.Sendto(fd, msg, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := syscall.Recvfrom(fd, buf, 0)
	if err != nil {
		return fmt.Errorf("netlink receive: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return fmt.Errorf("netlink reply: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Type == syscall.NLMSG_ERROR && len(m.Data) >= 4 {
			if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
				if errno := syscall.Errno(-code); !errors.Is(errno, syscall.EEXIST) {
					return fmt.Errorf("route local %s dev %s: %w", p, lo.Name, errno)
				}
			}
		}
	}
	return nil
}

// loopbackInterface finds the loopback interface.
func loopbackInterface() (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		if ifs[i].Flags&net.FlagLoopback != 0 {
			return &ifs[i], nil
		}
	}
	return nil, errors.New("no loopback interface")
}
