package gateway

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// unsent returns the bytes written to c's socket that its peer has not
// acknowledged yet (SIOCOUTQ), and whether it could tell.
func unsent(c net.Conn) (int, bool) {
	if u, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS: the TCP socket under it
		c = u.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	n, ierr := 0, error(nil)
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); err != nil || ierr != nil {
		return 0, false
	}
	return n, true
}
