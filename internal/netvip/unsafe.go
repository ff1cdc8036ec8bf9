package netvip

import "unsafe"

// unsafePointer views the start of a netlink message body as its fixed
// header struct; ParseNetlinkMessage keeps bodies aligned.
func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
