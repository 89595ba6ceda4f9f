package engine

import (
	"os"
	"syscall"
	"testing"
)

// callerInGroups is the caller with uid and gid and the supplementary
// groups given (none read from /proc).
func callerInGroups(uid, gid uint32, groups ...uint32) *Caller {
	return &Caller{UID: uid, GID: gid, groups: groups, loaded: true}
}

func file(mode, uid, gid uint32) *Stat {
	return &Stat{Mode: syscall.S_IFREG | mode, UID: uid, GID: gid, Known: true}
}

func dir(mode, uid, gid uint32) *Stat {
	return &Stat{Mode: syscall.S_IFDIR | mode, UID: uid, GID: gid, Dir: true, Known: true}
}

func TestCallerMay(t *testing.T) {
	owner := callerInGroups(1000, 1000)
	member := callerInGroups(2000, 2000, 1000) // 1000 as a supplementary group
	primary := callerInGroups(3000, 1000)
	other := callerInGroups(4000, 4000)
	root := callerInGroups(0, 0)
	cases := []struct {
		name string
		c    *Caller
		a    *Stat
		want uint32
		ok   bool
	}{
		{"owner reads 0640", owner, file(0o640, 1000, 1000), PermRead, true},
		{"owner writes 0640", owner, file(0o640, 1000, 1000), PermWrite, true},
		{"owner executes 0640", owner, file(0o640, 1000, 1000), PermExec, false},
		{"owner bits only: 0047 denies the owner", owner, file(0o047, 1000, 1000), PermRead, false},
		{"supplementary group reads 0640", member, file(0o640, 1000, 1000), PermRead, true},
		{"supplementary group writes 0640", member, file(0o640, 1000, 1000), PermWrite, false},
		{"primary group reads 0640", primary, file(0o640, 1000, 1000), PermRead, true},
		{"group bits only: 0604 denies the group", primary, file(0o604, 1000, 1000), PermRead, false},
		{"other reads 0640", other, file(0o640, 1000, 1000), PermRead, false},
		{"other reads 0644", other, file(0o644, 1000, 1000), PermRead, true},
		{"other reads and writes 0646", other, file(0o646, 1000, 1000), PermRead | PermWrite, true},
		{"other reads and writes 0644", other, file(0o644, 1000, 1000), PermRead | PermWrite, false},
		{"other searches 0711", other, dir(0o711, 1000, 1000), PermExec, true},
		{"other searches 0700", other, dir(0o700, 1000, 1000), PermExec, false},
		{"root reads 0000", root, file(0, 1000, 1000), PermRead | PermWrite, true},
		{"root executes 0000", root, file(0, 1000, 1000), PermExec, false},
		{"root executes 0001", root, file(0o001, 1000, 1000), PermExec, true},
		{"root searches a 0000 directory", root, dir(0, 1000, 1000), PermExec, true},
		{"the file system itself", nil, file(0, 1000, 1000), PermRead | PermWrite | PermExec, true},
	}
	for _, c := range cases {
		if got := c.c.May(c.a, c.want); got != c.ok {
			t.Errorf("%s: May = %v, want %v", c.name, got, c.ok)
		}
	}
}

func TestCallerOwnsAndSticky(t *testing.T) {
	owner, other, root := callerInGroups(1000, 1000), callerInGroups(4000, 4000), callerInGroups(0, 0)
	a := file(0o644, 1000, 1000)
	if !owner.Owns(a) || other.Owns(a) || !root.Owns(a) || !(*Caller)(nil).Owns(a) {
		t.Errorf("Owns: owner %v, other %v, root %v, nil %v; want true, false, true, true",
			owner.Owns(a), other.Owns(a), root.Owns(a), (*Caller)(nil).Owns(a))
	}
	tmp := dir(0o1777, 0, 0)
	victim := file(0o666, 1000, 1000)
	cases := []struct {
		name   string
		c      *Caller
		d      *Stat
		denied bool
	}{
		{"other in a sticky dir", other, tmp, true},
		{"the victim's owner", owner, tmp, false},
		{"the directory's owner", callerInGroups(5000, 5000), dir(0o1777, 5000, 5000), false},
		{"root", root, tmp, false},
		{"other in a dir without the sticky bit", other, dir(0o777, 0, 0), false},
	}
	for _, c := range cases {
		if got := c.c.Sticky(c.d, victim); got != c.denied {
			t.Errorf("%s: Sticky = %v, want %v", c.name, got, c.denied)
		}
	}
}

func TestOpenWant(t *testing.T) {
	cases := []struct {
		flags uint32
		want  uint32
	}{
		{syscall.O_RDONLY, PermRead},
		{syscall.O_WRONLY, PermWrite},
		{syscall.O_RDWR, PermRead | PermWrite},
		{syscall.O_RDONLY | syscall.O_TRUNC, PermRead | PermWrite},
		{syscall.O_RDONLY | FmodeExec, PermRead | PermExec},
		{syscall.O_WRONLY | syscall.O_APPEND | syscall.O_CREAT, PermWrite},
	}
	for _, c := range cases {
		if got := OpenWant(c.flags); got != c.want {
			t.Errorf("OpenWant(%#o) = %d, want %d", c.flags, got, c.want)
		}
	}
}

func u32(v uint32) *uint32 { return &v }

func TestSetattrRules(t *testing.T) {
	owner := callerInGroups(1000, 1000, 50)
	other := callerInGroups(4000, 4000)
	writer := callerInGroups(3000, 1000) // in the file's group, which may write
	a := file(0o664, 1000, 1000)
	cases := []struct {
		name string
		c    *Caller
		r    SetattrAsk
		want error
	}{
		{"chown to another user", owner, SetattrAsk{UID: u32(2000)}, syscall.EPERM},
		{"chown to oneself", owner, SetattrAsk{UID: u32(1000)}, nil},
		{"chown by another", other, SetattrAsk{UID: u32(4000)}, syscall.EPERM},
		{"chgrp to a supplementary group", owner, SetattrAsk{GID: u32(50)}, nil},
		{"chgrp to a group not one's own", owner, SetattrAsk{GID: u32(60)}, syscall.EPERM},
		{"chgrp by another", other, SetattrAsk{GID: u32(1000)}, syscall.EPERM},
		{"chmod by the owner", owner, SetattrAsk{Mode: u32(0o600)}, nil},
		{"chmod by another", writer, SetattrAsk{Mode: u32(0o600)}, syscall.EPERM},
		{"utimes to a given time by the owner", owner, SetattrAsk{Mtime: TimeGiven}, nil},
		{"utimes to a given time by a writer", writer, SetattrAsk{Atime: TimeNow, Mtime: TimeGiven}, syscall.EPERM},
		{"utimes now by a writer", writer, SetattrAsk{Atime: TimeNow, Mtime: TimeNow}, nil},
		{"utimes now by another", other, SetattrAsk{Mtime: TimeNow}, syscall.EACCES},
		{"truncate by a writer", writer, SetattrAsk{Size: true}, nil},
		{"truncate by another", other, SetattrAsk{Size: true}, syscall.EACCES},
		{"ftruncate by another", other, SetattrAsk{Size: true, WithHandle: true}, nil},
		{"anything by root", callerInGroups(0, 0), SetattrAsk{UID: u32(7), GID: u32(7), Mode: u32(0o7777), Mtime: TimeGiven, Size: true}, nil},
		{"anything by the file system", nil, SetattrAsk{UID: u32(7), Mtime: TimeGiven}, nil},
	}
	for _, c := range cases {
		if got := c.c.SetattrErr(a, c.r); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSetattrClearsSetgid(t *testing.T) {
	owner := callerInGroups(1000, 1000, 50)
	a := file(0o644, 1000, 60) // a group the owner is not in
	cases := []struct {
		name    string
		gid     *uint32
		mode    uint32
		wantMod uint32
	}{
		{"outside the file's group", nil, 0o2755, 0o755},
		{"chgrp to its own group at once", u32(50), 0o2755, 0o2755},
		{"no set-group-ID asked", nil, 0o4755, 0o4755},
	}
	for _, c := range cases {
		mode := c.mode
		if err := owner.SetattrErr(a, SetattrAsk{GID: c.gid, Mode: &mode}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if mode != c.wantMod {
			t.Errorf("%s: mode %#o, want %#o", c.name, mode, c.wantMod)
		}
	}
	mode := uint32(0o2755)
	if err := callerInGroups(0, 0).SetattrErr(a, SetattrAsk{Mode: &mode}); err != nil || mode != 0o2755 {
		t.Errorf("root's chmod: %v, mode %#o; want nil, 02755", err, mode)
	}
}

func TestXattrRules(t *testing.T) {
	owner, other := callerInGroups(1000, 1000), callerInGroups(4000, 4000)
	cases := []struct {
		name  string
		c     *Caller
		a     *Stat
		write bool
		want  error
	}{
		{"read 0644 by another", other, file(0o644, 1000, 1000), false, nil},
		{"read 0600 by another", other, file(0o600, 1000, 1000), false, syscall.EACCES},
		{"write 0644 by another", other, file(0o644, 1000, 1000), true, syscall.EACCES},
		{"write 0666 by another", other, file(0o666, 1000, 1000), true, nil},
		{"write a sticky dir by another", other, dir(0o1777, 1000, 1000), true, syscall.EPERM},
		{"write a sticky dir by its owner", owner, dir(0o1777, 1000, 1000), true, nil},
		{"read a sticky dir by another", other, dir(0o1777, 1000, 1000), false, nil},
	}
	for _, c := range cases {
		if got := c.c.XattrErr(c.a, c.write); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNewOwner(t *testing.T) {
	def := Owner{UID: 7, GID: 8}
	c := callerInGroups(1000, 1000)
	cases := []struct {
		name          string
		c             *Caller
		parent        *Stat
		mode          uint32
		dir           bool
		uid, gid, out uint32
	}{
		{"the caller's owner", c, dir(0o755, 0, 0), 0o644, false, 1000, 1000, 0o644},
		{"the mount's owner without a caller", nil, dir(0o755, 0, 0), 0o644, false, 7, 8, 0o644},
		{"no parent known", c, nil, 0o644, false, 1000, 1000, 0o644},
		{"a set-group-ID directory's group", c, dir(0o2775, 0, 50), 0o644, false, 1000, 50, 0o644},
		{"a new directory inherits set-group-ID", c, dir(0o2775, 0, 50), 0o755, true, 1000, 50, 0o2755},
		{"a file's set-group-ID outside its group is cleared", c, dir(0o2775, 0, 50), 0o2755, false, 1000, 50, 0o755},
		{"a file's set-group-ID in its group stays", c, dir(0o755, 0, 0), 0o2755, false, 1000, 1000, 0o2755},
		{"root keeps set-group-ID", callerInGroups(0, 0), dir(0o2775, 0, 50), 0o2755, false, 0, 50, 0o2755},
	}
	for _, tc := range cases {
		uid, gid, out := tc.c.NewOwner(def, tc.parent, tc.mode, tc.dir)
		if uid != tc.uid || gid != tc.gid || out != tc.out {
			t.Errorf("%s: %d:%d %#o, want %d:%d %#o", tc.name, uid, gid, out, tc.uid, tc.gid, tc.out)
		}
	}
}

// TestCallerGroupsFromProc: a caller's supplementary groups are its
// process's, read from /proc/PID/status on first use; a process not
// visible has none.
func TestCallerGroupsFromProc(t *testing.T) {
	groups, err := syscall.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	self := NewCaller(uint32(os.Getuid()), 1<<31, uint32(os.Getpid()))
	for _, g := range groups {
		if !self.InGroup(uint32(g)) {
			t.Errorf("InGroup(%d) = false for one of this process's groups %v", g, groups)
		}
	}
	if self.InGroup(1<<31 + 1) {
		t.Error("InGroup of a group no process has: true")
	}
	if !self.InGroup(1 << 31) {
		t.Error("InGroup of the caller's own gid: false")
	}
	gone := NewCaller(4000, 4000, 1<<30) // no such pid
	if gone.InGroup(0) {
		t.Error("a caller whose process is not visible is in group 0")
	}
	if NewCaller(4000, 4000, 0).InGroup(0) {
		t.Error("a caller with no pid is in group 0")
	}
}
