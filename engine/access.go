package engine

// The permission rules, the way the kernel applies them with
// default_permissions (generic_permission and the VFS rules for chmod,
// chown, utimes, sticky directories, set-group-ID directories). Package
// fs applies them to every caller when the mount is not given
// default_permissions, and always to the sharing requests (a presigned
// URL or a POST policy is access the kernel knows nothing about); it
// finds the caller of a FUSE request and walks the directories of a path
// (fs/access.go).
//
// uid 0 is root: it may read and write anything, search any directory,
// and execute a file that has at least one execute bit. Every decision
// takes attributes known to be the object's own (Stat.Known).

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Access wanted, as in access(2).
const (
	PermRead  = 4
	PermWrite = 2
	PermExec  = 1
)

// FmodeExec is the open flag the kernel adds when it opens a file to
// execute it (__FMODE_EXEC).
const FmodeExec = 0o40

// Caller is the caller of a request: its uid, gid and supplementary
// groups. A nil *Caller is the file system itself (no caller): it may do
// anything.
type Caller struct {
	UID, GID uint32
	PID      uint32   // where the supplementary groups are read (0: none)
	groups   []uint32 // supplementary groups, read on first use
	loaded   bool
}

// NewCaller is the caller with uid and gid whose process is pid; its
// supplementary groups are read from /proc/PID/status when a decision
// needs them (none when the process is not visible to the daemon, as in
// another pid namespace).
func NewCaller(uid, gid, pid uint32) *Caller { return &Caller{UID: uid, GID: gid, PID: pid} }

// Root reports whether c bypasses permission bits.
func (c *Caller) Root() bool { return c == nil || c.UID == 0 }

// InGroup reports whether gid is c's group or one of its supplementary
// groups.
func (c *Caller) InGroup(gid uint32) bool {
	if c == nil || c.GID == gid {
		return true
	}
	if !c.loaded {
		c.groups, c.loaded = supplementaryGroups(c.PID), true
	}
	for _, g := range c.groups {
		if g == gid {
			return true
		}
	}
	return false
}

// supplementaryGroups reads a process's groups from /proc/PID/status (none
// when the process is not visible to the daemon).
func supplementaryGroups(pid uint32) []uint32 {
	if pid == 0 {
		return nil
	}
	data, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/status")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "Groups:")
		if !ok {
			continue
		}
		var out []uint32
		for _, g := range strings.Fields(rest) {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				out = append(out, uint32(n))
			}
		}
		return out
	}
	return nil
}

// May reports whether c may access an object with attributes a for all of
// want (PermRead, PermWrite, PermExec), as generic_permission decides.
func (c *Caller) May(a *Stat, want uint32) bool {
	if c == nil {
		return true
	}
	mode := a.Mode
	if c.UID == 0 {
		// Root reads, writes and searches anything; it executes a file
		// only when someone may.
		return want&PermExec == 0 || a.Dir || mode&0o111 != 0
	}
	var bits uint32
	switch {
	case c.UID == a.UID:
		bits = mode >> 6
	case c.InGroup(a.GID):
		bits = mode >> 3
	default:
		bits = mode
	}
	return bits&7&want == want
}

// Owns reports whether c may act as the owner of a (chmod, utimes to a
// given time): it is the owner, or root.
func (c *Caller) Owns(a *Stat) bool { return c.Root() || c.UID == a.UID }

// Sticky reports whether the sticky bit of dir keeps c from removing or
// replacing victim: only the owner of either, or root, may.
func (c *Caller) Sticky(dir, victim *Stat) bool {
	return dir.Mode&syscall.S_ISVTX != 0 && !c.Root() && c.UID != dir.UID && c.UID != victim.UID
}

// OpenWant is the access an open with flags asks for.
func OpenWant(flags uint32) uint32 {
	var want uint32
	switch flags & syscall.O_ACCMODE {
	case syscall.O_RDONLY:
		want = PermRead
	case syscall.O_WRONLY:
		want = PermWrite
	default:
		want = PermRead | PermWrite
	}
	if flags&syscall.O_TRUNC != 0 {
		want |= PermWrite
	}
	if flags&FmodeExec != 0 {
		want |= PermExec
	}
	return want
}

// TimeSet is how a setattr sets a time.
type TimeSet uint8

const (
	TimeKept  TimeSet = iota // not set
	TimeGiven                // set to a time of the caller's choosing
	TimeNow                  // set to the current time (utimes(NULL), UTIME_NOW)
)

// SetattrAsk is what a chmod, chown, utimes or truncate asks, as the
// permission rules see it.
type SetattrAsk struct {
	UID, GID     *uint32 // chown: the new owner, group (nil: kept)
	Mode         *uint32 // chmod: the new mode (nil: kept); S_ISGID may be cleared from it
	Atime, Mtime TimeSet // utimes
	Size         bool    // truncate
	// WithHandle: the change came through an open descriptor (ftruncate
	// needs no permission: the descriptor's mode was checked at open).
	WithHandle bool
}

// SetattrErr applies the rules of chmod, chown, utimes and truncate to c
// on an object with attributes a: nil, or the refusal (syscall.EPERM or
// syscall.EACCES, as the kernel answers). It may clear S_ISGID from
// *r.Mode (chmod by a caller outside the file's group), as the kernel
// does.
func (c *Caller) SetattrErr(a *Stat, r SetattrAsk) error {
	if c.Root() {
		return nil
	}
	owner := c.UID == a.UID
	if r.UID != nil && !(owner && *r.UID == a.UID) {
		return syscall.EPERM // only root gives a file away
	}
	if r.GID != nil && !(owner && (*r.GID == a.GID || c.InGroup(*r.GID))) {
		return syscall.EPERM // the owner may pick only one of its groups
	}
	if r.Mode != nil {
		if !owner {
			return syscall.EPERM
		}
		g := a.GID
		if r.GID != nil {
			g = *r.GID
		}
		if *r.Mode&syscall.S_ISGID != 0 && !c.InGroup(g) {
			*r.Mode &^= syscall.S_ISGID
		}
	}
	if (r.Atime != TimeKept || r.Mtime != TimeKept) && !owner {
		if r.Atime == TimeGiven || r.Mtime == TimeGiven {
			return syscall.EPERM // only the owner sets a time of its choosing
		}
		if !c.May(a, PermWrite) {
			return syscall.EACCES // "now" needs the owner or write permission
		}
	}
	if r.Size && !r.WithHandle && !c.May(a, PermWrite) {
		return syscall.EACCES
	}
	return nil
}

// XattrErr applies the rules of getxattr (write false) and setxattr,
// removexattr (write true) of user.* attributes to c on an object with
// attributes a: read or write permission, and on a sticky directory only
// its owner (or root) changes them. nil, or syscall.EPERM or EACCES.
func (c *Caller) XattrErr(a *Stat, write bool) error {
	if write && a.Dir && a.Mode&syscall.S_ISVTX != 0 && !c.Owns(a) {
		return syscall.EPERM
	}
	want := uint32(PermRead)
	if write {
		want = PermWrite
	}
	if !c.May(a, want) {
		return syscall.EACCES
	}
	return nil
}

// NewOwner is the owner, group and mode of a new object (a directory when
// dir) with permission bits mode made by c in a directory with attributes
// parent (nil: none known); def is the owner the file system itself
// gives (c nil). The owner is the caller, the group the caller's or the
// directory's when it is set-group-ID (which a new directory inherits);
// a file's S_ISGID is cleared when c is not in its group.
func (c *Caller) NewOwner(def Owner, parent *Stat, mode uint32, dir bool) (uid, gid, outMode uint32) {
	uid, gid = def.UID, def.GID
	if c != nil {
		uid, gid = c.UID, c.GID
	}
	outMode = mode
	if parent != nil && parent.Mode&syscall.S_ISGID != 0 {
		gid = parent.GID
		if dir {
			outMode |= syscall.S_ISGID
		}
	}
	if !dir && outMode&syscall.S_ISGID != 0 && c != nil && !c.Root() && !c.InGroup(gid) {
		outMode &^= syscall.S_ISGID
	}
	return uid, gid, outMode
}
